package dev.idempotency.sample;

import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.Server;

/**
 * The sample (its web.xml, filter, metrics, dashboard and operator endpoint) in embedded Jetty
 * on a free loopback port, started with some {@code idempotency.*} system properties that are
 * cleared again once the filter has read them. Not thread-safe.
 */
final class SampleServer implements AutoCloseable {

  private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\\{.*\\})?) (\\S+)$");

  private final Server server;
  final Http1Client http;

  private SampleServer(Server server) {
    this.server = server;
    this.http = new Http1Client(URI.create("http://127.0.0.1:" + Main.localPort(server) + "/"));
  }

  /** Starts with {@code settings} as {@code idempotency.NAME} system properties. */
  static SampleServer start(Map<String, String> settings) throws Exception {
    settings.forEach((name, value) -> System.setProperty("idempotency." + name, value));
    try {
      return new SampleServer(
          Main.start(new InetSocketAddress("127.0.0.1", 0), Main.webappDirectory()));
    } finally {
      settings.keySet().forEach(name -> System.clearProperty("idempotency." + name));
    }
  }

  URI base() {
    return http.base();
  }

  /** {@code GET /metrics} parsed: each series as printed ({@code name{labels}}) to its value. */
  Map<String, Double> metrics() throws Exception {
    var response = http.get("/metrics");
    if (response.statusCode() != 200) {
      throw new AssertionError("GET /metrics answered " + response.statusCode());
    }
    return parse(response.body());
  }

  /**
   * Waits until the filter has stored {@code count} responses in the memory store. The client
   * has the response before the filter stores it (the container sends a response as soon as its
   * Content-Length is written), so a retry sent at once can still find the key in flight.
   */
  void awaitCompletes(long count) {
    String series = "idempotency_store_seconds_count{op=\"complete\",store=\"memory\"}";
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
        .until(() -> metrics().getOrDefault(series, 0.0), done -> done >= count);
  }

  static Map<String, Double> parse(String exposition) {
    Map<String, Double> series = new LinkedHashMap<>();
    for (String line : exposition.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      if (!m.matches()) {
        throw new AssertionError("not a Prometheus sample line: " + line);
      }
      series.put(m.group(1), Double.parseDouble(m.group(2)));
    }
    return series;
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
