// `import text from "./file.yaml" with { type: "text" }` gives the file's text (Bun).
declare module "*.yaml" {
  const text: string;
  export default text;
}
