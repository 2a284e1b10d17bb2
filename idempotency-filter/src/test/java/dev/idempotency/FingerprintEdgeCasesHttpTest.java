package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.memory.MemoryStore;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Different requests the filter treated as one, or a 500, over real HTTP. */
class FingerprintEdgeCasesHttpTest {

  private final AtomicInteger executions = new AtomicInteger();
  private JettyServer server;

  /** Echoes what it read: a JSON body's length, or the form's parameters (escaped). */
  private final HttpServlet app = new HttpServlet() {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      executions.incrementAndGet();
      String type = req.getContentType() == null ? "" : req.getContentType();
      resp.setContentType("text/plain;charset=UTF-8");
      if (type.startsWith("application/x-www-form-urlencoded")) {
        req.setCharacterEncoding("ISO-8859-1"); // a legacy form page posts ISO-8859-1
        Map<String, String[]> params = new TreeMap<>(req.getParameterMap());
        StringBuilder out = new StringBuilder();
        params.forEach((k, v) -> out.append(k.replace("\0", "\\0")).append('=')
            .append(String.join("|", v).replace("\0", "\\0")).append('\n'));
        resp.setStatus(201);
        resp.getWriter().write(out.toString());
      } else if (!type.startsWith("application/json")) {
        resp.sendError(415, "JSON only");
      } else {
        resp.setStatus(201);
        resp.getWriter().write("read " + req.getInputStream().readAllBytes().length + " bytes");
      }
    }
  };

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  private HttpResponse<String> post(String key, String type, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri("/orders"))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", type)
        .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.ISO_8859_1));
    if (key != null) {
      b.header("Idempotency-Key", key);
    }
    return IdempotencyFilterHttpContract.CLIENT.send(b.build(),
        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  private void start() throws Exception {
    server = JettyServer.start(IdempotencyFilter.builder(new MemoryStore()).build(), app);
  }

  // SPEC §3 "bad JSON falls back to raw bytes"; a JSON number Jackson cannot hold as a
  // BigDecimal makes the filter throw before the servlet runs.
  @Test
  void jsonWithAHugeExponentReachesTheServlet() throws Exception {
    start();
    HttpResponse<String> r = post(null, "application/json", "{\"amount\":1e9999999999}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    assertThat(executions).hasValue(1);
  }

  // SPEC §4: same key, different request → 422. The servlet sees {"a\0b":"c"} and {"a":"b\0c"}.
  @Test
  void aKeyedRetryWithAnotherFormIsRefusedEvenWithNul() throws Exception {
    start();
    String key = UUID.randomUUID().toString();
    String type = "application/x-www-form-urlencoded";
    HttpResponse<String> first = post(key, type, "a%00b=c");
    HttpResponse<String> second = post(key, type, "a=b%00c");
    assertThat(first.body()).isEqualTo("a\\0b=c\n");
    assertThat(second.statusCode()).as(second.body()).isEqualTo(422);
  }

  // A form in ISO-8859-1 (the servlet says so, before reading a parameter, as the Servlet API
  // allows): on Tomcat the servlet sees Jürgen, then Jörgen; the filter hashed both as J\uFFFDrgen
  // (UTF-8 assumed) and replays the first to the second.
  @Test
  void aKeyedRetryWithAnotherLatin1FormIsRefused() throws Exception {
    try (EmbeddedContainer tomcat = EmbeddedContainer.start(EmbeddedContainer.Kind.TOMCAT,
        IdempotencyFilter.builder(new MemoryStore()).build(),
        new EmbeddedContainer.App().servlet("/*", app))) {
      String key = UUID.randomUUID().toString();
      String type = "application/x-www-form-urlencoded";
      HttpResponse<String> first = post(tomcat.port(), key, type, "name=J%FCrgen");
      HttpResponse<String> second = post(tomcat.port(), key, type, "name=J%F6rgen");
      assertThat(first.body()).isEqualTo("name=J\u00fcrgen\n");
      assertThat(second.statusCode()).as(second.body()).isEqualTo(422);
    }
  }

  private HttpResponse<String> post(int port, String key, String type, String body)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(
            java.net.URI.create("http://127.0.0.1:" + port + "/orders"))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", type)
        .header("Idempotency-Key", key)
        .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.ISO_8859_1));
    return IdempotencyFilterHttpContract.CLIENT.send(b.build(),
        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  // A text/plain body, refused 415 (stored: < 500); the retry, now JSON and another body
  // (reordered members), is replayed the 415 although its bytes and type differ.
  @Test
  void aKeyedRetryWithAnotherTypeAndBodyIsNotReplayed() throws Exception {
    start();
    String key = UUID.randomUUID().toString();
    HttpResponse<String> first = post(key, "text/plain", "{\"a\":1,\"b\":2}");
    HttpResponse<String> second = post(key, "application/json", "{ \"b\":2, \"a\":1 }");
    assertThat(first.statusCode()).isEqualTo(415);
    assertThat(second.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
    assertThat(second.statusCode()).as(second.body()).isIn(201, 422);
  }
}
