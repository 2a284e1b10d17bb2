package dev.idempotency.redis;

import io.lettuce.core.RedisURI;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code idempotency.redis.uri} parsed: standalone ({@code redis://}, {@code rediss://}, with an
 * optional {@code user:password@} and {@code /database}) or Redis Cluster ({@code
 * redis-cluster://[user:password@]host:port,host:port}, {@code rediss-cluster://...}, or a comma
 * list of {@code redis://} URIs or {@code host:port} seeds). Lettuce's URI options ({@code
 * ?verifyPeer=NONE|CA|FULL}, ...) apply to a standalone URI and to every seed of a {@code
 * redis[s]-cluster://} one. Immutable and thread-safe.
 */
final class RedisAddress {

  private final boolean cluster;
  private final List<RedisURI> uris;

  private RedisAddress(boolean cluster, List<RedisURI> uris) {
    this.cluster = cluster;
    this.uris = List.copyOf(uris);
  }

  static RedisAddress parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("idempotency.redis.uri must not be empty");
    }
    String value = text.trim();
    try {
      for (String scheme : List.of("redis-cluster://", "rediss-cluster://")) {
        if (value.regionMatches(true, 0, scheme, 0, scheme.length())) {
          return clusterOf(value.substring(scheme.length()), scheme.startsWith("rediss"));
        }
      }
      if (value.contains(",")) {
        List<RedisURI> seeds = new ArrayList<>();
        for (String seed : value.split(",")) {
          seeds.add(standalone(seed.trim()));
        }
        return new RedisAddress(true, seeds);
      }
      return new RedisAddress(false, List.of(standalone(value)));
    } catch (IllegalArgumentException e) {
      // The cause's message may quote the URI, password and all.
      throw new IllegalArgumentException(
          "idempotency.redis.uri is not a Redis URI: " + redacted(value) + " ("
              + redacted(String.valueOf(e.getMessage())) + ")");
    }
  }

  private static RedisURI standalone(String value) {
    if (value.isEmpty()) {
      throw new IllegalArgumentException("empty host");
    }
    if (value.indexOf('#') >= 0) {
      // java.net.URI reads the rest as a fragment, and the password's start as the host.
      throw new IllegalArgumentException("a # in a password must be percent-encoded (%23)");
    }
    String uri = value.contains("://") ? value : "redis://" + value;
    RedisURI parsed = RedisURI.create(uri);
    String host = parsed.getHost();
    // Lettuce takes "host:notaport" whole as the host name, on the default port.
    if (host != null && host.indexOf(':') >= 0 && !isIpv6Literal(host)) {
      throw new IllegalArgumentException("the port is not a number: " + host);
    }
    return parsed;
  }

  private static boolean isIpv6Literal(String host) {
    return host.indexOf(':') != host.lastIndexOf(':') && host.matches("\\[?[0-9A-Fa-f:.]+]?");
  }

  private static RedisAddress clusterOf(String rest, boolean ssl) {
    String userInfo = null;
    int at = rest.lastIndexOf('@');
    if (at >= 0) {
      userInfo = rest.substring(0, at);
      rest = rest.substring(at + 1);
    }
    // Options (?verifyPeer=NONE, ...) are Lettuce's, as in a standalone URI, for every seed.
    String options = "";
    int question = rest.indexOf('?');
    if (question >= 0) {
      options = rest.substring(question);
      rest = rest.substring(0, question);
    }
    RedisURI template = RedisURI.create((ssl ? "rediss" : "redis") + "://localhost" + options);
    int slash = rest.indexOf('/');
    if (slash >= 0) {
      rest = rest.substring(0, slash);
    }
    List<RedisURI> seeds = new ArrayList<>();
    for (String hostPort : rest.split(",")) {
      hostPort = hostPort.trim();
      if (hostPort.isEmpty()) {
        throw new IllegalArgumentException("empty seed");
      }
      URI parsed = URI.create("redis://" + hostPort);
      if (parsed.getHost() == null) {
        throw new IllegalArgumentException("bad seed " + hostPort);
      }
      RedisURI.Builder seed =
          RedisURI.builder(template)
              .withHost(parsed.getHost())
              .withPort(parsed.getPort() > 0 ? parsed.getPort() : RedisURI.DEFAULT_REDIS_PORT);
      if (userInfo != null) {
        int colon = userInfo.indexOf(':');
        String user = colon < 0 ? "" : decode(userInfo.substring(0, colon));
        String password = decode(colon < 0 ? userInfo : userInfo.substring(colon + 1));
        if (user.isEmpty()) {
          seed.withPassword(password.toCharArray());
        } else {
          seed.withAuthentication(user, password.toCharArray());
        }
      }
      seeds.add(seed.build());
    }
    return new RedisAddress(true, seeds);
  }

  private static String decode(String text) {
    return java.net.URLDecoder.decode(text, java.nio.charset.StandardCharsets.UTF_8);
  }

  boolean cluster() {
    return cluster;
  }

  List<RedisURI> uris() {
    return uris;
  }

  /** The addresses, for messages: {@code host:port,...}, never a password. */
  @Override
  public String toString() {
    return (cluster ? "cluster " : "")
        + uris.stream().map(u -> u.getHost() + ":" + u.getPort()).collect(Collectors.joining(","));
  }

  /**
   * The text with everything from the scheme (or the start) to the last {@code @} hidden, for
   * error messages: a password may hold {@code /}, {@code @} or a space when it was not
   * percent-encoded, so nothing before the last {@code @} is shown.
   */
  static String redacted(String text) {
    int at = text.lastIndexOf('@');
    if (at < 0) {
      return text;
    }
    int scheme = text.indexOf("://");
    int from = scheme >= 0 && scheme < at ? scheme + 3 : 0;
    return text.substring(0, from) + "***" + text.substring(at);
  }
}
