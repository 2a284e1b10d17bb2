package dev.idempotency;

import com.fasterxml.jackson.core.JsonPointer;
import dev.idempotency.IdempotencyConfig.FailMode;
import dev.idempotency.IdempotencyConfig.InFlightMode;
import dev.idempotency.IdempotencyConfig.KeyFormat;
import dev.idempotency.IdempotencyConfig.KeyMode;
import dev.idempotency.IdempotencyConfig.PathPattern;
import dev.idempotency.spi.StoreSettings;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the settings of SPEC §9, for each name taking the first of: system property
 * {@code idempotency.NAME}, environment variable {@code IDEMPOTENCY_NAME} (upper case, {@code .}
 * and {@code -} as {@code _}), the init-param {@code NAME} (or a builder method), the default.
 * A bad value fails here, naming the setting and the value. Immutable and thread-safe.
 */
public final class Settings {

  /** The setting names (init-param form) with their defaults; null means none. */
  static final Map<String, String> DEFAULTS = defaults();

  private final IdempotencyConfig config;
  private final String store;
  private final StoreSettings storeSettings;

  private Settings(Function<String, String> lookup) {
    Reader r = new Reader(lookup);
    config =
        new IdempotencyConfig(
            r.bool("enabled"),
            r.percent("rollout.percent"),
            r.string("header"),
            r.set("methods"),
            r.paths("paths.include"),
            r.paths("paths.exclude"),
            r.choice("key.mode", KeyMode.class),
            r.choice("key.format", KeyFormat.class),
            r.string("scope.header"),
            r.string("scope.cookie"),
            r.duration("lock-timeout"),
            r.duration("retention"),
            r.duration("fingerprint.window"),
            r.pointers("fingerprint.ignore-fields"),
            r.choice("in-flight", InFlightMode.class),
            r.duration("wait-timeout"),
            r.choice("fail-mode", FailMode.class),
            r.size("max-request-bytes"),
            r.size("max-response-bytes"),
            r.bool("replay.set-cookie"),
            r.string("admin.token"));
    store = r.string("store").toLowerCase(Locale.ROOT);
    storeSettings =
        new StoreSettings(
            r.string("redis.uri"),
            r.string("jdbc.url"),
            r.string("jdbc.datasource"),
            r.string("jdbc.user"),
            r.string("jdbc.password"),
            r.bool("jdbc.create-schema"),
            config.lockTimeout());
  }

  /** Settings from init-params (or builder values), the environment and system properties. */
  public static Settings from(Function<String, String> initParams) {
    return from(initParams, System::getenv, System::getProperty);
  }

  static Settings from(
      Function<String, String> initParams,
      Function<String, String> environment,
      Function<String, String> systemProperties) {
    return new Settings(
        name -> {
          // A blank value (-Didempotency.retention=) is no value: the next source answers.
          String value = systemProperties.apply(propertyName(name));
          if (value == null || value.isBlank()) {
            value = environment.apply(environmentName(name));
          }
          if (value == null || value.isBlank()) {
            value = initParams.apply(name);
          }
          return value;
        });
  }

  /**
   * A setting as the sources beneath system properties give it (environment, then init-param),
   * else its default: what a run-time switch falls back to when its property is cleared.
   */
  static String beneathProperties(String name, Function<String, String> initParams,
      Function<String, String> environment) {
    String value = environment.apply(environmentName(name));
    if (value == null || value.isBlank()) {
      value = initParams.apply(name);
    }
    return value == null || value.isBlank() ? DEFAULTS.get(name) : value.trim();
  }

  /** {@code lock-timeout} → {@code idempotency.lock-timeout}. */
  static String propertyName(String name) {
    return "idempotency." + name;
  }

  /** {@code redis.uri} → {@code IDEMPOTENCY_REDIS_URI}. */
  static String environmentName(String name) {
    return "IDEMPOTENCY_" + name.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  public IdempotencyConfig config() {
    return config;
  }

  /** {@code idempotency.store}: {@code memory}, {@code redis}, {@code jdbc}, {@code redis+jdbc}. */
  public String store() {
    return store;
  }

  public StoreSettings storeSettings() {
    return storeSettings;
  }

  private static Map<String, String> defaults() {
    Map<String, String> d = new java.util.LinkedHashMap<>();
    d.put("enabled", "true");
    d.put("rollout.percent", "100");
    d.put("store", "memory");
    d.put("redis.uri", "redis://127.0.0.1:6379");
    d.put("jdbc.url", null);
    d.put("jdbc.datasource", null);
    d.put("jdbc.user", null);
    d.put("jdbc.password", null);
    d.put("jdbc.create-schema", "false");
    d.put("scope.header", null);
    d.put("scope.cookie", null);
    d.put("header", "Idempotency-Key");
    d.put("methods", "POST,PATCH");
    d.put("paths.include", null);
    d.put("paths.exclude", null);
    d.put("key.mode", "optional");
    d.put("key.format", "any");
    d.put("lock-timeout", "30s");
    d.put("retention", "24h");
    d.put("fingerprint.window", "100ms");
    d.put("fingerprint.ignore-fields", null);
    d.put("in-flight", "reject");
    d.put("wait-timeout", "10s");
    d.put("fail-mode", "open");
    d.put("max-request-bytes", "1MiB");
    d.put("max-response-bytes", "1MiB");
    d.put("replay.set-cookie", "false");
    d.put("admin.token", null);
    return java.util.Collections.unmodifiableMap(d);
  }

  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");
  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|KB|MB|GB)?");

  /** Parses {@code 250ms}, {@code 30s}, {@code 5m}, {@code 24h}, {@code 2d} or ISO-8601. */
  static Duration parseDuration(String value) {
    String v = value.trim();
    Matcher m = DURATION.matcher(v);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
    }
    return Duration.parse(v.toUpperCase(Locale.ROOT));
  }

  /** Parses {@code 512KiB}, {@code 1MiB} or a number of bytes. */
  static long parseSize(String value) {
    Matcher m = SIZE.matcher(value.trim());
    if (!m.matches()) {
      throw new NumberFormatException(value);
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "B" : m.group(2);
    long factor = switch (unit) {
      case "KiB" -> 1024L;
      case "MiB" -> 1024L * 1024;
      case "GiB" -> 1024L * 1024 * 1024;
      case "KB" -> 1000L;
      case "MB" -> 1000L * 1000;
      case "GB" -> 1000L * 1000 * 1000;
      default -> 1L;
    };
    return Math.multiplyExact(n, factor);
  }

  /** Reads one setting by name, with its default, failing with the setting's name. */
  private static final class Reader {
    private final Function<String, String> lookup;

    Reader(Function<String, String> lookup) {
      this.lookup = lookup;
    }

    String string(String name) {
      String value = lookup.apply(name);
      if (value == null || value.isBlank()) {
        value = DEFAULTS.get(name);
      }
      return value == null ? null : value.trim();
    }

    private IllegalArgumentException bad(String name, String value, String expected) {
      return new IllegalArgumentException(
          propertyName(name) + " must be " + expected + ": '" + value + "'");
    }

    boolean bool(String name) {
      String v = string(name);
      if (v.equalsIgnoreCase("true")) {
        return true;
      }
      if (v.equalsIgnoreCase("false")) {
        return false;
      }
      throw bad(name, v, "true or false");
    }

    int percent(String name) {
      String v = string(name);
      try {
        int percent = Integer.parseInt(v);
        if (percent >= 0 && percent <= 100) {
          return percent;
        }
      } catch (NumberFormatException e) {
        // below
      }
      throw bad(name, v, "a whole number from 0 to 100");
    }

    /** Parsed only: IdempotencyConfig checks the range, naming it. */
    Duration duration(String name) {
      String v = string(name);
      try {
        return parseDuration(v);
      } catch (DateTimeParseException | ArithmeticException | NumberFormatException e) {
        throw bad(name, v, "a duration like 250ms, 30s, 5m, 24h or PT30S");
      }
    }

    long size(String name) {
      String v = string(name);
      try {
        return parseSize(v);
      } catch (NumberFormatException | ArithmeticException e) {
        throw bad(name, v, "a size like 512KiB, 1MiB or a number of bytes");
      }
    }

    <E extends Enum<E>> E choice(String name, Class<E> type) {
      String v = string(name);
      String constant = v.toUpperCase(Locale.ROOT).replace('-', '_');
      for (E e : type.getEnumConstants()) {
        if (e.name().equals(constant)) {
          return e;
        }
      }
      List<String> allowed = new ArrayList<>();
      for (E e : type.getEnumConstants()) {
        allowed.add(e.name().toLowerCase(Locale.ROOT).replace('_', '-'));
      }
      throw bad(name, v, "one of " + allowed);
    }

    List<String> list(String name) {
      String v = string(name);
      if (v == null) {
        return List.of();
      }
      return Arrays.stream(v.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    Set<String> set(String name) {
      Set<String> values = new LinkedHashSet<>(list(name));
      if (values.isEmpty()) {
        throw bad(name, string(name), "a comma-separated list");
      }
      return values;
    }

    List<PathPattern> paths(String name) {
      List<PathPattern> patterns = new ArrayList<>();
      for (String p : list(name)) {
        try {
          patterns.add(new PathPattern(p));
        } catch (IllegalArgumentException e) {
          throw bad(name, p, "servlet-style path patterns like /api/* or /pay");
        }
      }
      return patterns;
    }

    List<JsonPointer> pointers(String name) {
      List<JsonPointer> pointers = new ArrayList<>();
      for (String p : list(name)) {
        try {
          JsonPointer pointer = JsonPointer.compile(p);
          if (pointer.matches()) {
            throw bad(name, p, "JSON Pointers like /timestamp");
          }
          pointers.add(pointer);
        } catch (IllegalArgumentException e) {
          throw bad(name, p, "JSON Pointers like /timestamp");
        }
      }
      return pointers;
    }
  }
}
