package dev.idempotency.spi;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A captured response: status, headers in order, body bytes. Immutable and thread-safe (the
 * body array is never exposed for writing by the library; callers must not modify it).
 *
 * <p>{@link #headersAsText()} and {@link #parseHeaders(String)} give stores one compact
 * encoding: a line {@code name: value} per value. Control characters in names and values are
 * stored as the spaces a container sends in their place, so the encoding is unambiguous.
 */
public record StoredResponse(int status, Map<String, List<String>> headers, byte[] body) {

  public StoredResponse {
    if (status < 100 || status > 999) {
      throw new IllegalArgumentException("status must be 100..999: " + status);
    }
    Objects.requireNonNull(headers, "headers");
    Objects.requireNonNull(body, "body");
    Map<String, List<String>> copy = new LinkedHashMap<>();
    headers.forEach((name, values) -> {
      List<String> sent = new ArrayList<>(values.size());
      for (String value : values) {
        sent.add(asSent(value));
      }
      copy.put(asSent(name), List.copyOf(sent));
    });
    headers = java.util.Collections.unmodifiableMap(copy);
  }

  /**
   * Text as Jetty and Tomcat put a header on the wire: control characters other than tab become
   * spaces. Kept raw, a line break would split a value into a header of its own in
   * {@link #headersAsText()}, and PostgreSQL refuses a NUL in text.
   */
  private static String asSent(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if ((c < ' ' && c != '\t') || c == 0x7f) {
        char[] sent = text.toCharArray();
        for (int j = i; j < sent.length; j++) {
          if ((sent[j] < ' ' && sent[j] != '\t') || sent[j] == 0x7f) {
            sent[j] = ' ';
          }
        }
        return new String(sent);
      }
    }
    return text;
  }

  /** Headers encoded as {@code name: value} lines joined by {@code \n}. */
  public String headersAsText() {
    StringBuilder text = new StringBuilder();
    headers.forEach(
        (name, values) -> {
          for (String value : values) {
            if (text.length() > 0) {
              text.append('\n');
            }
            text.append(name).append(": ").append(value);
          }
        });
    return text.toString();
  }

  /** The inverse of {@link #headersAsText()}. */
  public static Map<String, List<String>> parseHeaders(String text) {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    if (text == null || text.isEmpty()) {
      return headers;
    }
    int start = 0;
    while (start <= text.length()) {
      int end = text.indexOf('\n', start);
      if (end < 0) {
        end = text.length();
      }
      int colon = text.indexOf(": ", start);
      if (colon > start && colon < end) {
        headers
            .computeIfAbsent(text.substring(start, colon), n -> new ArrayList<>(1))
            .add(text.substring(colon + 2, end));
      }
      start = end + 1;
    }
    return headers;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StoredResponse other
        && status == other.status
        && headers.equals(other.headers)
        && Arrays.equals(body, other.body);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * status + headers.hashCode()) + Arrays.hashCode(body);
  }

  @Override
  public String toString() {
    return "StoredResponse[status=" + status + ", headers=" + headers + ", body=" + body.length
        + " bytes]";
  }
}
