// parse-prometheus-text-format ships no types: what the tests use of it.
declare module "parse-prometheus-text-format" {
  interface Sample {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  /** Prometheus text exposition → metric families; throws on text that is not the format. */
  export default function parse(text: string): { name: string; help: string; type: string; metrics: Sample[] }[];
}
