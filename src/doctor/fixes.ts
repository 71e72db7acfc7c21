/**
 * What to change in the common proxies for each kind of problem the doctor finds. The same table is in
 * docs/doctor.md (test/doctor/docs.test.ts keeps them in step).
 * @module
 */

export type FixKind = "buffering" | "compression" | "idle-timeout" | "stream-headers";

export interface Fix {
  readonly proxy: string;
  readonly fix: string;
}

export const FIXES: Readonly<Record<FixKind, readonly Fix[]>> = {
  buffering: [
    {
      proxy: "nginx",
      fix: "in the stream's location: proxy_buffering off; proxy_cache off; proxy_http_version 1.1; proxy_set_header Connection ''; (or keep proxy_buffering and let the broker's X-Accel-Buffering: no work: no proxy_ignore_headers X-Accel-Buffering)",
    },
    {
      proxy: "Apache",
      fix: "ProxyPass /events http://127.0.0.1:8080/events flushpackets=on (mod_proxy_http), and no mod_deflate or mod_cache on that path",
    },
    {
      proxy: "Caddy",
      fix: "reverse_proxy flushes text/event-stream at once by default: remove a positive flush_interval (or set flush_interval -1) and any cache or encode handler on the path",
    },
    {
      proxy: "HAProxy",
      fix: "HAProxy forwards response data as it comes: look for compression (compression type) or a caching layer in front of or behind it",
    },
    {
      proxy: "Cloudflare",
      fix: "no Cache Rule may cache the stream path (Bypass cache); keep the broker's Cache-Control: no-cache, no-transform intact",
    },
    {
      proxy: "AWS ALB",
      fix: "an ALB does not buffer responses; a CloudFront distribution in front must not cache the path (CachingDisabled policy)",
    },
  ],
  compression: [
    {
      proxy: "nginx",
      fix: "gzip off; (and brotli off;) in the stream's location, or leave text/event-stream out of gzip_types",
    },
    {
      proxy: "Apache",
      fix: "SetEnv no-gzip 1 in the stream's <Location>, or leave text/event-stream out of AddOutputFilterByType DEFLATE",
    },
    { proxy: "Caddy", fix: "do not apply encode to the stream path (a handle for it without encode)" },
    {
      proxy: "HAProxy",
      fix: "leave text/event-stream out of compression type (or no compression algo in that backend)",
    },
    {
      proxy: "Cloudflare",
      fix: "a Compression Rule that disables compression for the stream path; keep Cache-Control: no-transform reaching Cloudflare",
    },
    {
      proxy: "AWS ALB",
      fix: "an ALB does not compress; in CloudFront turn off Compress objects automatically for the path",
    },
  ],
  "idle-timeout": [
    {
      proxy: "sse-broker",
      fix: "--heartbeat-ms below the shortest idle timeout on the way (default 15000); clients reconnect and resume with Last-Event-ID either way",
    },
    {
      proxy: "nginx",
      fix: "proxy_read_timeout 1h; (default 60s: it counts time without data from the broker) and proxy_send_timeout 1h;",
    },
    { proxy: "Apache", fix: "ProxyTimeout 3600 (or timeout=3600 on the ProxyPass line)" },
    {
      proxy: "Caddy",
      fix: "no read timeout by default; remove a read_timeout in reverse_proxy's transport http block",
    },
    {
      proxy: "HAProxy",
      fix: "timeout client 1h and timeout server 1h (or timeout tunnel 1h) in the stream's frontend/backend (sample configs use 30s–50s)",
    },
    {
      proxy: "Cloudflare",
      fix: "closes a proxied connection after 100 s without data (Enterprise can raise it): keep the heartbeat well below that",
    },
    {
      proxy: "AWS ALB",
      fix: "idle timeout 60 s by default: raise the load balancer attribute idle_timeout.timeout_seconds or keep the heartbeat below it",
    },
  ],
  "stream-headers": [
    {
      proxy: "nginx",
      fix: "nginx consumes X-Accel-Buffering (not passed on, by design); make sure no add_header/proxy_hide_header rewrites Content-Type or Cache-Control",
    },
    {
      proxy: "Apache",
      fix: "no Header set/unset for Content-Type, Cache-Control or X-Accel-Buffering on the stream path",
    },
    {
      proxy: "Caddy",
      fix: "no header directive removing Cache-Control or X-Accel-Buffering in reverse_proxy",
    },
    { proxy: "HAProxy", fix: "no http-response del-header/set-header for these headers" },
    { proxy: "Cloudflare", fix: "no Transform Rule modifying response headers of the stream path" },
    { proxy: "AWS ALB", fix: "ALB passes headers as they are; check the application or CDN in front" },
  ],
};
