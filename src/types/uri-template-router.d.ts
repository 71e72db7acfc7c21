// Types for the parts of uri-template-router (no bundled types) that src/core/topic.ts uses.
declare module "uri-template-router" {
  export interface Result {
    readonly uri: string;
    readonly params?: Record<string, unknown>;
  }
  export class Router {
    /** Adds an RFC 6570 template; throws on a malformed one. */
    addTemplate(template: string, variables: Record<string, unknown>, matchValue: unknown): unknown;
    /** The best matching route for `uri`, or undefined. */
    resolveURI(uri: string): Result | undefined;
  }
}
