/**
 * Content negotiation for `GET /`: the event stream unless the client prefers HTML (a browser navigating).
 * @module
 */

/** True when the Accept header asks for HTML and not explicitly for an event stream. */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let html = 0;
  let stream = 0;
  for (const part of accept.split(",")) {
    const [type = "", ...params] = part.trim().toLowerCase().split(";");
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(q > 0)) continue;
    if (type.trim() === "text/event-stream") stream = Math.max(stream, q);
    else if (type.trim() === "text/html" || type.trim() === "application/xhtml+xml") html = Math.max(html, q);
  }
  return html > stream;
}
