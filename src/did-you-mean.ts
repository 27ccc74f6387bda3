// Suggestions for misspelt names: config keys, protocol names, model ids.

/** Levenshtein distance, case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (s === t) return 0;
  let previous = Array.from({ length: t.length + 1 }, (_, i) => i);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[t.length]!;
}

/** The candidates close enough to `input` to be what was meant, closest first. */
export function closestMatches(input: string, candidates: Iterable<string>, limit = 3): string[] {
  const needle = input.toLowerCase();
  const budget = Math.max(2, Math.floor(input.length / 3));
  const scored: { candidate: string; score: number }[] = [];
  for (const candidate of new Set(candidates)) {
    const hay = candidate.toLowerCase();
    // A substring hit ("gpt-4o" in "openai/gpt-4o") counts as close as a one-letter typo.
    const distance = hay.includes(needle) || needle.includes(hay) ? 1 : editDistance(input, candidate);
    if (distance <= budget) scored.push({ candidate, score: distance });
  }
  return scored
    .sort((x, y) => x.score - y.score || x.candidate.localeCompare(y.candidate))
    .slice(0, limit)
    .map((s) => s.candidate);
}

export function didYouMean(input: string, candidates: Iterable<string>): string | undefined {
  const [best] = closestMatches(input, candidates, 1);
  return best === undefined ? undefined : `did you mean '${best}'?`;
}
