package dev.idempotency.sample;

import static dev.idempotency.sample.Http1Client.FORM;
import static dev.idempotency.sample.Http1Client.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What the unchanged {@code sample-webapp.war} does in a real container, over real HTTP: each
 * container's test deploys the war and hands over a client.
 */
abstract class DeployedWarScenarios {

  static final ObjectMapper MAPPER = new ObjectMapper();

  /** The war {@code mvn package} built; the failsafe plugin passes its path. */
  static Path war() {
    Path war = Path.of(System.getProperty("sample.war", "target/sample-webapp.war"));
    assertThat(war).as("run `mvn verify`: the war is built in the package phase").isRegularFile();
    return war;
  }

  abstract Http1Client http();

  @Test
  void replaysOrderForSameKey() throws Exception {
    String key = UUID.randomUUID().toString();
    String body = "{\"item\":\"book\",\"quantity\":2}";
    long before = http().executions();

    HttpResponse<String> first = http().post("/api/orders", JSON, body, "Idempotency-Key", key);
    HttpResponse<String> second = http().post("/api/orders", JSON, body, "Idempotency-Key", key);

    assertThat(first.statusCode()).isEqualTo(201);
    assertThat(first.headers().firstValue("Idempotent-Replayed")).isEmpty();
    assertThat(second.statusCode()).isEqualTo(201);
    assertThat(second.headers().firstValue("Idempotent-Replayed")).hasValue("true");
    assertThat(second.body()).isEqualTo(first.body());
    assertThat(second.headers().firstValue("Location"))
        .isEqualTo(first.headers().firstValue("Location"))
        .isPresent();
    assertThat(http().executions()).isEqualTo(before + 1);
  }

  @Test
  void sameKeyWhileFirstIsRunningIs409() throws Exception {
    String key = UUID.randomUUID().toString();
    String body = "{\"item\":\"slow\",\"quantity\":1}";
    long before = http().executions();

    CompletableFuture<HttpResponse<String>> first =
        http().postAsync("/api/orders?delayMs=3000", JSON, body, "Idempotency-Key", key);
    // the handler counts itself before it sleeps: from here the first request holds the key
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
        .until(() -> http().executions() == before + 1);
    HttpResponse<String> second =
        http().post("/api/orders?delayMs=3000", JSON, body, "Idempotency-Key", key);

    assertThat(second.statusCode()).isEqualTo(409);
    assertThat(second.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/problem+json"));
    assertThat(second.headers().firstValue("Retry-After")).isPresent();
    assertThat(MAPPER.readTree(second.body()).get("type").asText())
        .isEqualTo("urn:problem-type:idempotency:in-flight");
    assertThat(first.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(201);
    assertThat(http().executions()).isEqualTo(before + 1);
  }

  @Test
  void sameKeyWithAnotherBodyIs422() throws Exception {
    String key = UUID.randomUUID().toString();
    long before = http().executions();

    HttpResponse<String> first = http().post("/api/orders", JSON,
        "{\"item\":\"book\",\"quantity\":1}", "Idempotency-Key", key);
    HttpResponse<String> other = http().post("/api/orders", JSON,
        "{\"item\":\"book\",\"quantity\":5}", "Idempotency-Key", key);

    assertThat(first.statusCode()).isEqualTo(201);
    assertThat(other.statusCode()).isEqualTo(422);
    assertThat(other.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/problem+json"));
    assertThat(MAPPER.readTree(other.body()).get("type").asText())
        .isEqualTo("urn:problem-type:idempotency:payload-mismatch");
    assertThat(http().executions()).isEqualTo(before + 1);
  }

  @Test
  void formPostStillReachesGetParameterAndReplays() throws Exception {
    String key = UUID.randomUUID().toString();
    String form = "name=Ada+Lovelace&tag=x&tag=y";
    long before = http().executions();

    HttpResponse<String> first = http().post("/api/echo", FORM, form, "Idempotency-Key", key);
    HttpResponse<String> second = http().post("/api/echo", FORM, form, "Idempotency-Key", key);

    assertThat(first.statusCode()).isEqualTo(200);
    JsonNode echo = MAPPER.readTree(first.body());
    assertThat(echo.get("params"))
        .isEqualTo(MAPPER.readTree("{\"name\":[\"Ada Lovelace\"],\"tag\":[\"x\",\"y\"]}"));
    assertThat(second.statusCode()).isEqualTo(200);
    assertThat(second.headers().firstValue("Idempotent-Replayed")).hasValue("true");
    assertThat(second.body()).isEqualTo(first.body());
    assertThat(http().executions()).isEqualTo(before + 1);
  }

  @Test
  void asyncRequestCompletesAndReplays() throws Exception {
    long before = http().executions();
    // The retry is sent the moment the response arrives, on the same connection: the record must
    // be stored before the container ends the async request. Rounds make a race show up.
    for (int round = 0; round < 20; round++) {
      String key = UUID.randomUUID().toString();
      String delay = round == 0 ? "200" : "0";

      HttpResponse<String> first =
          http().post("/api/async?delayMs=" + delay, null, "", "Idempotency-Key", key);
      HttpResponse<String> second =
          http().post("/api/async?delayMs=" + delay, null, "", "Idempotency-Key", key);

      assertThat(first.statusCode()).as("round %d", round).isEqualTo(201);
      assertThat(MAPPER.readTree(first.body()).get("delayMs").asText()).isEqualTo(delay);
      assertThat(second.statusCode()).as("round %d", round).isEqualTo(201);
      assertThat(second.headers().firstValue("Idempotent-Replayed")).hasValue("true");
      assertThat(second.body()).isEqualTo(first.body());
    }
    assertThat(http().executions()).isEqualTo(before + 20);
  }

  @Test
  void metricsAndDashboardShowTheFilterMeters() throws Exception {
    String executed = "idempotency_requests_total{outcome=\"executed\"}";
    double metricsBefore = SampleServer.parse(http().get("/metrics").body()).get(executed);
    long dashboardBefore = MAPPER.readTree(http().get("/dashboard.json").body())
        .get("outcomes").get("executed").asLong();

    http().post("/api/orders", JSON, "{\"item\":\"book\",\"quantity\":1}",
        "Idempotency-Key", UUID.randomUUID().toString());

    assertThat(SampleServer.parse(http().get("/metrics").body()))
        .containsEntry(executed, metricsBefore + 1);
    JsonNode dashboard = MAPPER.readTree(http().get("/dashboard.json").body());
    assertThat(dashboard.get("outcomes").get("executed").asLong()).isEqualTo(dashboardBefore + 1);
    assertThat(dashboard.get("store").get("serving").asText()).isEqualTo("memory");
    HttpResponse<String> page = http().get("/");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.body()).contains("dashboard.js");
    assertThat(http().get("/dashboard.js").statusCode()).isEqualTo(200);
  }

  @Test
  void operatorEndpointIsMountedAndOffWithoutAToken() throws Exception {
    HttpResponse<String> response = http().get("/admin/in-flight");

    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(response.body()).contains("idempotency.admin.token");
  }

  static Path emptyDirectory(Path parent, String name) throws Exception {
    return Files.createDirectories(parent.resolve(name));
  }
}
