package dev.idempotency;

import dev.idempotency.IdempotencyConfig.KeyFormat;
import jakarta.servlet.http.HttpServletRequest;
import java.security.Principal;
import java.util.Enumeration;
import java.util.function.Function;

/**
 * Reads and validates the idempotency key (SPEC §2.1) and the caller's scope (§2.3).
 * Thread-safe.
 */
final class KeyResolver {

  /** A parsed header: the key, or why it is invalid; both null when there is no header. */
  record Parsed(String key, String invalid) {
    static final Parsed ABSENT = new Parsed(null, null);

    static Parsed invalid(String why) {
      return new Parsed(null, why);
    }
  }

  private final String header;
  private final KeyFormat format;
  /** The scope of a caller nothing identifies. */
  static final String ANONYMOUS = "anonymous";

  private final String scopeHeader;
  private final String scopeCookie;
  private final Function<HttpServletRequest, String> scopeExtractor;

  KeyResolver(
      String header,
      KeyFormat format,
      String scopeHeader,
      String scopeCookie,
      Function<HttpServletRequest, String> scopeExtractor) {
    this.header = header;
    this.format = format;
    this.scopeHeader = scopeHeader;
    this.scopeCookie = scopeCookie;
    this.scopeExtractor = scopeExtractor;
  }

  Parsed key(HttpServletRequest request) {
    Enumeration<String> values = request.getHeaders(header);
    if (values == null || !values.hasMoreElements()) {
      return Parsed.ABSENT;
    }
    String raw = values.nextElement();
    if (values.hasMoreElements()) {
      return Parsed.invalid("More than one " + header + " header.");
    }
    return parse(raw, format, header);
  }

  static Parsed parse(String raw, KeyFormat format, String header) {
    String value = raw.strip();
    if (value.startsWith("\"")) {
      value = unquote(value);
      if (value == null) {
        return Parsed.invalid(header + " is not a valid Structured Field string.");
      }
    }
    if (value.isEmpty()) {
      return Parsed.invalid(header + " is empty.");
    }
    if (value.length() > 255) {
      return Parsed.invalid(header + " is longer than 255 characters.");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < 0x21 || c > 0x7e) {
        return Parsed.invalid(
            header + " may hold only printable ASCII characters (0x21-0x7E).");
      }
    }
    if (format == KeyFormat.UUID && !isUuid(value)) {
      return Parsed.invalid(header + " must be a UUID.");
    }
    return new Parsed(value, null);
  }

  /** An RFC 8941 sf-string: quoted, with only {@code \"} and {@code \\} escapes; else null. */
  private static String unquote(String value) {
    if (value.length() < 2 || !value.endsWith("\"")) {
      return null;
    }
    StringBuilder out = new StringBuilder(value.length());
    for (int i = 1; i < value.length() - 1; i++) {
      char c = value.charAt(i);
      if (c == '\\') {
        if (i + 1 >= value.length() - 1) {
          return null;
        }
        char next = value.charAt(++i);
        if (next != '"' && next != '\\') {
          return null;
        }
        out.append(next);
      } else if (c == '"') {
        return null;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static boolean isUuid(String s) {
    if (s.length() != 36) {
      return false;
    }
    for (int i = 0; i < 36; i++) {
      char c = s.charAt(i);
      boolean dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? c != '-' : Character.digit(c, 16) < 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * The caller's scope: the principal's name, else a hash of {@code Authorization}, else the
   * configured extractor or scope header, else a hash of the session (the {@code scope.cookie},
   * or the container's session id), else {@code anonymous}. Prefixed by its source so a
   * principal named like a tenant never shares a scope with it. The session comes before
   * {@code anonymous} because an application that authenticates by a session cookie in a filter
   * after this one shows no principal here: its users would share one scope.
   */
  String scope(HttpServletRequest request) {
    Principal principal = request.getUserPrincipal();
    if (principal != null && principal.getName() != null) {
      return "principal:" + principal.getName();
    }
    String authorization = request.getHeader("Authorization");
    if (authorization != null && !authorization.isEmpty()) {
      return "authorization:" + Hashing.sha256Hex(authorization);
    }
    if (scopeExtractor != null) {
      String scope = scopeExtractor.apply(request);
      if (scope != null && !scope.isEmpty()) {
        return "custom:" + scope;
      }
    }
    if (scopeHeader != null) {
      String scope = request.getHeader(scopeHeader);
      if (scope != null && !scope.isEmpty()) {
        return "header:" + scope;
      }
    }
    String session = session(request);
    if (session != null && !session.isEmpty()) {
      return "session:" + Hashing.sha256Hex(session);
    }
    return ANONYMOUS;
  }

  private String session(HttpServletRequest request) {
    if (scopeCookie == null) {
      return request.getRequestedSessionId();
    }
    jakarta.servlet.http.Cookie[] cookies = request.getCookies();
    if (cookies != null) {
      for (jakarta.servlet.http.Cookie cookie : cookies) {
        if (cookie.getName().equals(scopeCookie)) {
          return cookie.getValue();
        }
      }
    }
    return null;
  }
}
