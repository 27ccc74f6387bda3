// Prints the README's request-field loss table from the field table itself
// (src/protocols/fields.ts), so the two cannot drift: `bun scripts/loss-table.ts`, then paste.
// tests/unit/fields.test.ts checks that the README holds exactly this text.
import { lossTable } from "../src/protocols/fields.ts";

console.log(lossTable());
