package dev.idempotency.sample;

import static dev.idempotency.sample.Http1Client.FORM;
import static dev.idempotency.sample.Http1Client.JSON;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpResponse;
import java.util.List;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The sample's API over real HTTP, in the embedded Jetty that {@link Main} starts with the
 * sample's web.xml, filter included. Requests here carry no key and differ from each other, so
 * the filter's keyless fingerprint lets each one through.
 */
class SampleApiTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private static Server server;
  private static Http1Client http;

  @BeforeAll
  static void start() throws Exception {
    server = Main.start(new InetSocketAddress("127.0.0.1", 0), Main.webappDirectory());
    http = new Http1Client(URI.create("http://127.0.0.1:" + Main.localPort(server) + "/"));
  }

  @AfterAll
  static void stop() throws Exception {
    server.stop();
  }

  @Test
  void createsOrderWith201LocationAndBody() throws Exception {
    HttpResponse<String> created =
        http.post("/api/orders", JSON, "{\"item\":\"book\",\"quantity\":2}");

    assertThat(created.statusCode()).isEqualTo(201);
    assertThat(created.headers().firstValue("Content-Type")).hasValueSatisfying(
        type -> assertThat(type).startsWith("application/json"));
    JsonNode order = MAPPER.readTree(created.body());
    assertThat(order.get("item").asText()).isEqualTo("book");
    assertThat(order.get("quantity").asInt()).isEqualTo(2);
    assertThat(order.get("id").asText()).isNotBlank();
    assertThat(order.get("createdAt").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
    assertThat(created.headers().firstValue("Location"))
        .hasValue("/api/orders/" + order.get("id").asText());
  }

  @Test
  void getsCreatedOrderByItsLocation() throws Exception {
    HttpResponse<String> created =
        http.post("/api/orders", JSON, "{\"item\":\"lamp\",\"quantity\":1}");

    HttpResponse<String> fetched = http.get(created.headers().firstValue("Location").orElseThrow());

    assertThat(fetched.statusCode()).isEqualTo(200);
    assertThat(MAPPER.readTree(fetched.body())).isEqualTo(MAPPER.readTree(created.body()));
  }

  @Test
  void unknownOrderIs404Problem() throws Exception {
    HttpResponse<String> response = http.get("/api/orders/no-such-order");

    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/problem+json"));
  }

  @Test
  void quantityBelowOneIs400ProblemFromTheHandler() throws Exception {
    HttpResponse<String> response =
        http.post("/api/orders", JSON, "{\"item\":\"book\",\"quantity\":0}");

    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/problem+json"));
    JsonNode problem = MAPPER.readTree(response.body());
    assertThat(problem.get("type").asText()).isEqualTo("urn:problem-type:sample:invalid-order");
    assertThat(problem.get("title").asText()).isEqualTo("Invalid order");
    assertThat(problem.get("status").asInt()).isEqualTo(400);
    assertThat(problem.get("detail").asText()).isEqualTo("quantity must be at least 1, was 0");
  }

  @Test
  void malformedJsonIs400Problem() throws Exception {
    HttpResponse<String> response = http.post("/api/orders", JSON, "{\"item\":");

    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(MAPPER.readTree(response.body()).get("type").asText())
        .isEqualTo("urn:problem-type:sample:invalid-order");
  }

  @Test
  void explodeMakesTheHandlerThrow500() throws Exception {
    HttpResponse<String> response =
        http.post("/api/orders", JSON, "{\"item\":\"explode\",\"quantity\":1}");

    assertThat(response.statusCode()).isEqualTo(500);
  }

  @Test
  void delayMsMakesTheHandlerWaitFirst() throws Exception {
    long start = System.nanoTime();
    HttpResponse<String> response =
        http.post("/api/orders?delayMs=300", JSON, "{\"item\":\"slow\",\"quantity\":1}");
    long elapsedMs = (System.nanoTime() - start) / 1_000_000;

    assertThat(response.statusCode()).isEqualTo(201);
    assertThat(elapsedMs).isGreaterThanOrEqualTo(300);
  }

  @Test
  void delayMsOutOfRangeIs400Problem() throws Exception {
    HttpResponse<String> response =
        http.post("/api/orders?delayMs=10001", JSON, "{\"item\":\"book\",\"quantity\":1}");

    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(MAPPER.readTree(response.body()).get("detail").asText())
        .isEqualTo("delayMs must be an integer from 0 to 10000: 10001");
  }

  @Test
  void executionsCountsEveryPostHandlerRunFailuresIncluded() throws Exception {
    long before = http.executions();

    http.post("/api/orders", JSON, "{\"item\":\"count-ok\",\"quantity\":1}");
    http.post("/api/orders", JSON, "{\"item\":\"count-400\",\"quantity\":0}");
    http.post("/api/orders", JSON, "{\"item\":\"explode\",\"quantity\":2}");
    http.post("/api/echo", JSON, "{\"count\":1}");
    http.post("/api/stream?chunks=1", null, "");
    http.post("/api/async", null, "");
    http.get("/api/orders/nothing");

    assertThat(http.executions()).isEqualTo(before + 6);
  }

  @Test
  void echoReturnsJsonBodyAsReadFromTheInputStream() throws Exception {
    String body = "{ \"b\": 2, \"a\": [1, \"ü\"] }";

    HttpResponse<String> response = http.post("/api/echo?trace=on", JSON, body);

    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode echo = MAPPER.readTree(response.body());
    assertThat(echo.get("contentType").asText()).isEqualTo(JSON);
    assertThat(echo.get("body").asText()).isEqualTo(body);
    assertThat(echo.get("params")).isEqualTo(MAPPER.readTree("{\"trace\":[\"on\"]}"));
  }

  @Test
  void echoReturnsFormPostThroughGetParameterMap() throws Exception {
    HttpResponse<String> response =
        http.post("/api/echo", FORM, "name=Ada+Lovelace&tag=x&tag=y&empty=");

    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode echo = MAPPER.readTree(response.body());
    assertThat(echo.get("contentType").asText()).isEqualTo(FORM);
    assertThat(echo.get("body").isNull()).isTrue();
    assertThat(echo.get("params")).isEqualTo(MAPPER.readTree(
        "{\"name\":[\"Ada Lovelace\"],\"tag\":[\"x\",\"y\"],\"empty\":[\"\"]}"));
  }

  @Test
  void streamSendsNLinesChunked() throws Exception {
    HttpResponse<String> response = http.post("/api/stream?chunks=4", null, "");

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Transfer-Encoding")).hasValue("chunked");
    assertThat(response.headers().firstValue("Content-Length")).isEmpty();
    assertThat(response.body().lines().toList())
        .isEqualTo(List.of("chunk 1 of 4", "chunk 2 of 4", "chunk 3 of 4", "chunk 4 of 4"));
  }

  @Test
  void asyncCompletesAfterTheDelayWith201() throws Exception {
    long start = System.nanoTime();
    HttpResponse<String> response = http.post("/api/async?delayMs=250", null, "");
    long elapsedMs = (System.nanoTime() - start) / 1_000_000;

    assertThat(response.statusCode()).isEqualTo(201);
    assertThat(elapsedMs).isGreaterThanOrEqualTo(250);
    JsonNode body = MAPPER.readTree(response.body());
    assertThat(body.get("delayMs").asInt()).isEqualTo(250);
    assertThat(body.get("id").asText()).isNotBlank();
  }

  @Test
  void metricsIsPrometheusText() throws Exception {
    http.post("/api/orders", JSON, "{\"item\":\"metered\",\"quantity\":1}");

    HttpResponse<String> response = http.get("/metrics");

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("text/plain"));
    assertThat(response.body()).contains("# TYPE sample_executions_total counter\n")
        .containsPattern("(?m)^sample_executions_total [1-9][0-9]*\\.0$");
  }
}
