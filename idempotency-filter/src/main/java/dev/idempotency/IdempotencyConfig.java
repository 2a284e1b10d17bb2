package dev.idempotency;

import com.fasterxml.jackson.core.JsonPointer;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * Every setting of SPEC §9 that shapes the filter's behaviour, validated when built. Immutable
 * and thread-safe; changing a setting means building a new filter. Only the run-time switches
 * ({@code idempotency.enabled} and {@code idempotency.rollout.percent}) are read again per
 * request, from system properties, by {@link IdempotencyFilter}.
 *
 * <p>Build one with {@link Settings} (init-params, environment, system properties) or
 * {@link IdempotencyFilter#builder}.
 */
public record IdempotencyConfig(
    boolean enabled,
    int rolloutPercent,
    String header,
    Set<String> methods,
    List<PathPattern> includePaths,
    List<PathPattern> excludePaths,
    KeyMode keyMode,
    KeyFormat keyFormat,
    String scopeHeader,
    String scopeCookie,
    Duration lockTimeout,
    Duration retention,
    Duration fingerprintWindow,
    List<JsonPointer> ignoreFields,
    InFlightMode inFlight,
    Duration waitTimeout,
    FailMode failMode,
    long maxRequestBytes,
    long maxResponseBytes,
    boolean replaySetCookie,
    String adminToken) {

  /** What to do with a covered request that has no key (SPEC §2.2). */
  public enum KeyMode {
    /** Protect it by its content fingerprint. */
    OPTIONAL,
    /** Answer {@code 400 key-required}. */
    REQUIRED,
    /** Pass it through unprotected. */
    KEY_ONLY
  }

  /** Which keys are valid (SPEC §2.1). */
  public enum KeyFormat {
    ANY,
    UUID
  }

  /** What a request finds when the same key is still running (SPEC §5). */
  public enum InFlightMode {
    /** {@code 409} with {@code Retry-After}. */
    REJECT,
    /** Wait up to {@code wait-timeout} for the first to finish, then replay it. */
    WAIT
  }

  /** What to do when no store answers (SPEC §8). */
  public enum FailMode {
    /** Execute unprotected, counted and logged. */
    OPEN,
    /** {@code 503 store-unavailable} with {@code Retry-After}. */
    CLOSED
  }

  public IdempotencyConfig {
    if (rolloutPercent < 0 || rolloutPercent > 100) {
      throw new IllegalArgumentException(
          "idempotency.rollout.percent must be 0..100: " + rolloutPercent);
    }
    Objects.requireNonNull(header, "header");
    if (!isHeaderName(header)) {
      throw new IllegalArgumentException("idempotency.header must be a header name: " + header);
    }
    methods = methods.stream().map(m -> m.toUpperCase(Locale.ROOT)).collect(
        java.util.stream.Collectors.toUnmodifiableSet());
    if (methods.isEmpty()) {
      throw new IllegalArgumentException("idempotency.methods must name at least one method");
    }
    includePaths = List.copyOf(includePaths);
    excludePaths = List.copyOf(excludePaths);
    Objects.requireNonNull(keyMode, "keyMode");
    Objects.requireNonNull(keyFormat, "keyFormat");
    if (scopeHeader != null && !isHeaderName(scopeHeader)) {
      throw new IllegalArgumentException(
          "idempotency.scope.header must be a header name: " + scopeHeader);
    }
    if (scopeCookie != null && !isHeaderName(scopeCookie)) {
      throw new IllegalArgumentException(
          "idempotency.scope.cookie must be a cookie name: " + scopeCookie);
    }
    // Stores keep milliseconds: under 1 ms would be a lock that is stale when written or a TTL
    // Redis refuses. The upper bounds keep every value far inside what the stores can hold
    // (PostgreSQL intervals, Redis PX) and what anyone means by a lock or a retention.
    between("idempotency.lock-timeout", lockTimeout, MAX_LOCK_TIMEOUT, "1d");
    between("idempotency.retention", retention, MAX_RETENTION, "3650d");
    between("idempotency.fingerprint.window", fingerprintWindow, MAX_RETENTION, "3650d");
    between("idempotency.wait-timeout", waitTimeout, MAX_LOCK_TIMEOUT, "1d");
    ignoreFields = List.copyOf(ignoreFields);
    Objects.requireNonNull(inFlight, "inFlight");
    Objects.requireNonNull(failMode, "failMode");
    if (maxRequestBytes < 0 || maxRequestBytes > MAX_BYTES) {
      throw new IllegalArgumentException("idempotency.max-request-bytes must be from 0 to "
          + MAX_BYTES + " bytes (2GiB - 9): " + maxRequestBytes);
    }
    if (maxResponseBytes < 0 || maxResponseBytes > MAX_BYTES) {
      throw new IllegalArgumentException("idempotency.max-response-bytes must be from 0 to "
          + MAX_BYTES + " bytes (2GiB - 9): " + maxResponseBytes);
    }
  }

  /** The largest Java array a body is buffered in. */
  private static final long MAX_BYTES = Integer.MAX_VALUE - 8;

  private static boolean isHeaderName(String name) {
    return !name.isBlank() && name.chars().allMatch(c -> c > 0x20 && c < 0x7f && c != ':');
  }

  private static final Duration MAX_LOCK_TIMEOUT = Duration.ofDays(1);
  private static final Duration MAX_RETENTION = Duration.ofDays(3650);

  private static void between(String name, Duration value, Duration max, String maxText) {
    if (value == null || value.compareTo(Duration.ofMillis(1)) < 0 || value.compareTo(max) > 0) {
      throw new IllegalArgumentException(
          name + " must be between 1ms and " + maxText + ": " + value);
    }
  }

  /** The defaults of SPEC §9. */
  public static IdempotencyConfig defaults() {
    return Settings.from(name -> null).config();
  }

  /** Whether SPEC §1 covers this method and path. */
  boolean covers(String method, String path) {
    if (!methods.contains(method)) {
      return false;
    }
    if (!includePaths.isEmpty() && !anyMatches(includePaths, path)) {
      return false;
    }
    return !anyMatches(excludePaths, path);
  }

  // A loop, not a stream: this runs for every request the filter sees.
  private static boolean anyMatches(List<PathPattern> patterns, String path) {
    for (int i = 0; i < patterns.size(); i++) {
      if (patterns.get(i).matches(path)) {
        return true;
      }
    }
    return false;
  }

  /**
   * A servlet-style path pattern: {@code /api/*} (a prefix, the bare {@code /api} included),
   * {@code *.json} (an extension), {@code /*} (everything) or an exact path.
   */
  public record PathPattern(String pattern) {

    public PathPattern {
      Objects.requireNonNull(pattern, "pattern");
      if (!pattern.startsWith("/") && !pattern.startsWith("*.")) {
        throw new IllegalArgumentException(
            "a path pattern starts with / or *. : " + pattern);
      }
    }

    boolean matches(String path) {
      if (pattern.equals("/*")) {
        return true;
      }
      if (pattern.endsWith("/*")) {
        String prefix = pattern.substring(0, pattern.length() - 2);
        return path.equals(prefix) || path.startsWith(prefix + "/");
      }
      if (pattern.startsWith("*.")) {
        return path.endsWith(pattern.substring(1));
      }
      return path.equals(pattern);
    }
  }
}
