package dev.idempotency;

import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The RFC 9457 problems the filter itself answers with (SPEC §7). Each kind has a stable
 * {@code type} URI. Details never contain the caller's raw key. Immutable and thread-safe.
 */
public enum Problem {
  INVALID_KEY("invalid-key", 400, "Invalid idempotency key"),
  KEY_REQUIRED("key-required", 400, "Idempotency key required"),
  PAYLOAD_MISMATCH("payload-mismatch", 422, "Idempotency key reused with another request"),
  IN_FLIGHT("in-flight", 409, "Request with this idempotency key is in progress"),
  TOO_LARGE("too-large", 413, "Request body too large for an idempotent request"),
  STORE_UNAVAILABLE("store-unavailable", 503, "Idempotency store unavailable"),
  BAD_REQUEST("bad-request", 400, "Bad request"),
  UNAUTHORIZED("unauthorized", 401, "Bearer token required"),
  NOT_FOUND("not-found", 404, "Not found"),
  METHOD_NOT_ALLOWED("method-not-allowed", 405, "Method not allowed");

  /** The prefix of every problem {@code type}. */
  public static final String TYPE_PREFIX = "urn:problem-type:idempotency:";

  private final String type;
  private final int status;
  private final String title;

  Problem(String kind, int status, String title) {
    this.type = TYPE_PREFIX + kind;
    this.status = status;
    this.title = title;
  }

  public String type() {
    return type;
  }

  public int status() {
    return status;
  }

  public String title() {
    return title;
  }

  /** The problem document, as bytes of {@code application/problem+json}. */
  public byte[] body(String detail) {
    return ("{\"type\":\"" + type + "\",\"title\":\"" + title + "\",\"status\":" + status
        + ",\"detail\":\"" + escape(detail) + "\"}").getBytes(StandardCharsets.UTF_8);
  }

  /** Writes this problem as the whole response; {@code retryAfterSeconds} ≤ 0 sends none. */
  public void send(HttpServletResponse response, String detail, long retryAfterSeconds)
      throws IOException {
    byte[] body = body(detail);
    response.resetBuffer();
    response.setStatus(status);
    response.setContentType("application/problem+json");
    response.setContentLength(body.length);
    if (retryAfterSeconds > 0) {
      response.setHeader("Retry-After", Long.toString(retryAfterSeconds));
    }
    response.getOutputStream().write(body);
  }

  private static String escape(String s) {
    StringBuilder out = new StringBuilder(s.length() + 8);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.toString();
  }
}
