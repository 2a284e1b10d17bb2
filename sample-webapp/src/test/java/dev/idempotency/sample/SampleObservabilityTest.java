package dev.idempotency.sample;

import static dev.idempotency.sample.Http1Client.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * SPEC §10 through the sample: {@code GET /metrics} in Prometheus text, the operator endpoint at
 * {@code /admin/*}, and the dashboard's JSON, over real HTTP against the real web.xml.
 */
class SampleObservabilityTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String TOKEN = "s3cret-" + UUID.randomUUID();
  private static final String ORDER = "{\"item\":\"book\",\"quantity\":1}";

  private SampleServer sample;

  @AfterEach
  void stop() throws Exception {
    if (sample != null) {
      sample.close();
    }
  }

  private static String outcome(String outcome) {
    return "idempotency_requests_total{outcome=\"" + outcome + "\"}";
  }

  private HttpResponse<String> order(String key, String body) throws Exception {
    return sample.http.post("/api/orders", JSON, body, "Idempotency-Key", key);
  }

  /** Waits until a request holds a lock: the in-flight gauge says so. */
  private void awaitInFlight(int count) {
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
        .until(() -> sample.metrics().get("idempotency_inflight"), v -> v == count);
  }

  @Test
  void metricsCountAKnownSequenceOfRequestsUnderSpecNames() throws Exception {
    sample = SampleServer.start(Map.of("max-request-bytes", "4KiB"));
    String first = UUID.randomUUID().toString();
    assertThat(order(first, ORDER).statusCode()).isEqualTo(201);                     // executed
    sample.awaitCompletes(1);
    assertThat(order(first, ORDER).headers().firstValue("Idempotent-Replayed"))
        .hasValue("true");                                                             // replayed
    assertThat(order(first, ORDER).statusCode()).isEqualTo(201);                     // replayed
    assertThat(order(first, "{\"item\":\"pen\",\"quantity\":1}").statusCode())
        .isEqualTo(422);                                                               // mismatch
    assertThat(order("k".repeat(256), ORDER).statusCode()).isEqualTo(400);           // invalid
    String big = "{\"item\":\"" + "x".repeat(5000) + "\",\"quantity\":1}";
    assertThat(order(UUID.randomUUID().toString(), big).statusCode()).isEqualTo(413); // too_large
    sample.http.post("/api/echo", "multipart/form-data; boundary=b", "--b--\r\n",
        "Idempotency-Key", UUID.randomUUID().toString());                            // bypassed
    assertThat(sample.http.get("/api/executions").statusCode()).isEqualTo(200);      // not covered
    String slow = UUID.randomUUID().toString();
    CompletableFuture<HttpResponse<String>> running = sample.http.postAsync(
        "/api/orders?delayMs=3000", JSON, ORDER, "Idempotency-Key", slow);          // executed
    awaitInFlight(1);
    assertThat(sample.http.post("/api/orders?delayMs=3000", JSON, ORDER,
        "Idempotency-Key", slow).statusCode()).isEqualTo(409);                      // conflict
    assertThat(running.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(201);

    Map<String, Double> metrics = sample.metrics();
    assertThat(metrics).containsEntry(outcome("executed"), 2.0)
        .containsEntry(outcome("replayed"), 2.0)
        .containsEntry(outcome("conflict"), 1.0)
        .containsEntry(outcome("mismatch"), 1.0)
        .containsEntry(outcome("invalid"), 1.0)
        .containsEntry(outcome("too_large"), 1.0)
        .containsEntry(outcome("bypassed"), 1.0)
        .containsEntry(outcome("fail_open"), 0.0)
        .containsEntry(outcome("fail_closed"), 0.0)
        .containsEntry("idempotency_stale_recovered_total", 0.0)
        .containsEntry("idempotency_fallback_total", 0.0)
        .containsEntry("idempotency_inflight", 0.0)
        // executed 2, replayed 2, mismatch 1, conflict 1: one acquire each
        .containsEntry("idempotency_store_seconds_count{op=\"acquire\",store=\"memory\"}", 6.0)
        .containsEntry("idempotency_store_seconds_count{op=\"complete\",store=\"memory\"}", 2.0)
        .containsEntry(
            "idempotency_store_seconds_bucket{op=\"acquire\",store=\"memory\",le=\"+Inf\"}", 6.0)
        .containsEntry("sample_executions_total", 3.0);
    assertThat(metrics.get("idempotency_store_seconds_sum{op=\"acquire\",store=\"memory\"}"))
        .isPositive();
    String text = sample.http.get("/metrics").body();
    assertThat(text).contains("# TYPE idempotency_requests_total counter",
        "# TYPE idempotency_store_seconds histogram",
        "# TYPE idempotency_stale_recovered_total counter",
        "# TYPE idempotency_fallback_total counter",
        "# TYPE idempotency_inflight gauge");
  }

  private static int closedPort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  @Test
  void storeDownCountsFailOpenAndTheDashboardShowsNothingServing() throws Exception {
    sample = SampleServer.start(Map.of("store", "redis",
        "redis.uri", "redis://127.0.0.1:" + closedPort()));

    HttpResponse<String> unprotected = order(UUID.randomUUID().toString(), ORDER);

    assertThat(unprotected.statusCode()).isEqualTo(201);
    assertThat(sample.metrics()).containsEntry(outcome("fail_open"), 1.0)
        .containsEntry(outcome("executed"), 0.0);
    JsonNode store = MAPPER.readTree(sample.http.get("/dashboard.json").body()).get("store");
    assertThat(store.get("name").asText()).isEqualTo("redis");
    assertThat(store.get("serving").asText()).isEqualTo("none");
  }

  @Test
  void storeDownWithFailModeClosedCountsFailClosed() throws Exception {
    sample = SampleServer.start(Map.of("store", "redis", "fail-mode", "closed",
        "redis.uri", "redis://127.0.0.1:" + closedPort()));

    assertThat(order(UUID.randomUUID().toString(), ORDER).statusCode()).isEqualTo(503);
    assertThat(sample.metrics()).containsEntry(outcome("fail_closed"), 1.0);
  }

  @Test
  void dashboardJsonShowsCountsLatencyPercentilesAndTheServingStore() throws Exception {
    sample = SampleServer.start(Map.of());
    String key = UUID.randomUUID().toString();
    order(key, ORDER);
    sample.awaitCompletes(1);
    order(key, ORDER);

    JsonNode dashboard = MAPPER.readTree(sample.http.get("/dashboard.json").body());

    assertThat(dashboard.get("outcomes").get("executed").asLong()).isEqualTo(1);
    assertThat(dashboard.get("outcomes").get("replayed").asLong()).isEqualTo(1);
    assertThat(dashboard.get("outcomes").get("fail_open").asLong()).isZero();
    assertThat(dashboard.get("store").get("name").asText()).isEqualTo("memory");
    assertThat(dashboard.get("store").get("serving").asText()).isEqualTo("memory");
    assertThat(dashboard.get("store").get("breaker").asText()).isEqualTo("none");
    JsonNode acquire = dashboard.get("latency").get(0);
    assertThat(acquire.get("op").asText()).isEqualTo("acquire");
    assertThat(acquire.get("count").asLong()).isEqualTo(2);
    assertThat(acquire.get("p50Ms").asDouble()).isPositive();
    assertThat(acquire.get("p99Ms").asDouble())
        .isGreaterThanOrEqualTo(acquire.get("p50Ms").asDouble());
    assertThat(dashboard.get("latency").get(1).get("op").asText()).isEqualTo("complete");
  }

  @Test
  void dashboardPageIsServedAtTheRoot() throws Exception {
    sample = SampleServer.start(Map.of());

    HttpResponse<String> page = sample.http.get("/");
    HttpResponse<String> script = sample.http.get("/dashboard.js");

    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type").orElse("")).startsWith("text/html");
    assertThat(page.body()).contains("<script src=\"dashboard.js\"></script>");
    assertThat(script.statusCode()).isEqualTo(200);
    assertThat(script.body()).contains("fetch(\"dashboard.json\"");
  }

  private HttpResponse<String> admin(String method, String path, String token) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(sample.base().resolve("/admin" + path))
        .method(method, HttpRequest.BodyPublishers.noBody());
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return HttpClient.newHttpClient().send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void operatorEndpointLooksUpPurgesAndListsWithoutShowingKeysOrBodies() throws Exception {
    sample = SampleServer.start(Map.of("admin.token", TOKEN));
    String key = "order-" + UUID.randomUUID();
    String secretBody = "{\"item\":\"card 4242424242424242\",\"quantity\":1}";
    HttpResponse<String> created = order(key, secretBody);
    assertThat(created.statusCode()).isEqualTo(201);
    sample.awaitCompletes(1);

    HttpResponse<String> anonymous = admin("GET", "/keys?scope=anonymous&key=" + key, null);
    assertThat(anonymous.statusCode()).isEqualTo(401);
    assertThat(anonymous.headers().firstValue("Content-Type").orElse(""))
        .startsWith("application/problem+json");
    assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
    assertThat(admin("GET", "/keys?scope=anonymous&key=" + key, "wrong").statusCode())
        .isEqualTo(401);

    HttpResponse<String> found = admin("GET", "/keys?scope=anonymous&key=" + key, TOKEN);
    assertThat(found.statusCode()).isEqualTo(200);
    JsonNode record = MAPPER.readTree(found.body());
    assertThat(record.get("state").asText()).isEqualTo("completed");
    assertThat(record.get("status").asInt()).isEqualTo(201);
    assertThat(record.get("bodyBytes").asInt()).isEqualTo(created.body().length());
    assertThat(record.get("requestHashPrefix").asText()).hasSize(12);
    assertThat(record.get("ageMillis").asLong()).isNotNegative();
    assertThat(found.body()).doesNotContain(key).doesNotContain("4242").doesNotContain("card");

    String storeKey = record.get("storeKey").asText();
    assertThat(admin("DELETE", "/keys/" + storeKey, TOKEN).statusCode()).isEqualTo(200);
    HttpResponse<String> gone = admin("GET", "/keys/" + storeKey, TOKEN);
    assertThat(gone.statusCode()).isEqualTo(404);
    assertThat(gone.headers().firstValue("Content-Type").orElse(""))
        .startsWith("application/problem+json");
    long before = sample.http.executions();
    HttpResponse<String> again = order(key, secretBody);
    assertThat(again.statusCode()).isEqualTo(201);
    assertThat(again.headers().firstValue("Idempotent-Replayed")).isEmpty();
    assertThat(sample.http.executions()).as("purged: the key runs again").isEqualTo(before + 1);

    String slowKey = "slow-" + UUID.randomUUID();
    CompletableFuture<HttpResponse<String>> running = sample.http.postAsync(
        "/api/orders?delayMs=3000", JSON, ORDER, "Idempotency-Key", slowKey);
    awaitInFlight(1);
    HttpResponse<String> inFlight = admin("GET", "/in-flight?olderThan=0s", TOKEN);
    assertThat(inFlight.statusCode()).isEqualTo(200);
    JsonNode locks = MAPPER.readTree(inFlight.body());
    assertThat(locks.get("store").asText()).isEqualTo("memory");
    assertThat(locks.get("records")).hasSize(1);
    assertThat(locks.get("records").get(0).get("state").asText()).isEqualTo("in-flight");
    assertThat(locks.get("records").get(0).get("lockAgeMillis").asLong()).isNotNegative();
    assertThat(inFlight.body()).doesNotContain(slowKey);
    JsonNode none = MAPPER.readTree(admin("GET", "/in-flight?olderThan=1h", TOKEN).body());
    assertThat(none.get("records")).isEmpty();
    assertThat(running.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(201);
  }

  @Test
  void operatorEndpointIsOffUnlessATokenIsSet() throws Exception {
    sample = SampleServer.start(Map.of());

    HttpResponse<String> response = admin("GET", "/in-flight", "anything");

    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(response.headers().firstValue("Content-Type").orElse(""))
        .startsWith("application/problem+json");
    assertThat(response.body()).contains("idempotency.admin.token");
  }
}
