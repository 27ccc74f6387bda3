// The dashboard's browser script and style sheet are imported as text (Bun's `with { type:
// "text" }`), so `bun build --compile` embeds them in the executable.
declare module "*.client.js" {
  const text: string;
  export default text;
}
declare module "*.css" {
  const text: string;
  export default text;
}
