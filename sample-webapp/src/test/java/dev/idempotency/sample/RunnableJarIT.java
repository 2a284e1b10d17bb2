package dev.idempotency.sample;

import static dev.idempotency.sample.Http1Client.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** {@code java -jar sample-webapp.jar}: the one-command run of the README. */
class RunnableJarIT {

  private static final ObjectMapper MAPPER = new ObjectMapper();

  @Test
  void runsWithTheFilterFromTheSameWebXmlAndReplays() throws Exception {
    try (RunningJar jar = RunningJar.start(List.of("-Dport=0"), Map.of())) {
      Http1Client http = jar.awaitListening();
      String key = UUID.randomUUID().toString();
      String body = "{\"item\":\"book\",\"quantity\":1}";

      HttpResponse<String> first = http.post("/api/orders", JSON, body, "Idempotency-Key", key);
      HttpResponse<String> second = http.post("/api/orders", JSON, body, "Idempotency-Key", key);

      assertThat(first.statusCode()).isEqualTo(201);
      assertThat(second.headers().firstValue("Idempotent-Replayed")).hasValue("true");
      assertThat(second.body()).isEqualTo(first.body());
      assertThat(http.executions()).isEqualTo(1);
    }
  }

  @Test
  void portComesFromThePortEnvironmentVariable() throws Exception {
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    try (RunningJar jar = RunningJar.start(List.of(), Map.of("PORT", Integer.toString(port)))) {
      Http1Client http = jar.awaitListening();

      assertThat(http.base().getPort()).isEqualTo(port);
      assertThat(http.get("/api/executions").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void settingsComeFromEnvironmentAndSystemProperties() throws Exception {
    try (RunningJar jar = RunningJar.start(
        List.of("-Dport=0", "-Didempotency.header=Request-Key"),
        Map.of("IDEMPOTENCY_KEY_MODE", "required"))) {
      Http1Client http = jar.awaitListening();
      String body = "{\"item\":\"book\",\"quantity\":1}";
      String key = UUID.randomUUID().toString();

      HttpResponse<String> keyless = http.post("/api/orders", JSON, body);
      HttpResponse<String> first = http.post("/api/orders", JSON, body, "Request-Key", key);
      HttpResponse<String> second = http.post("/api/orders", JSON, body, "Request-Key", key);

      assertThat(keyless.statusCode()).isEqualTo(400);
      assertThat(MAPPER.readTree(keyless.body()).get("type").asText())
          .isEqualTo("urn:problem-type:idempotency:key-required");
      assertThat(first.statusCode()).isEqualTo(201);
      assertThat(second.headers().firstValue("Idempotent-Replayed")).hasValue("true");
    }
  }

  @Test
  void badSettingFailsStartWithOneLineNamingIt() throws Exception {
    try (RunningJar jar = RunningJar.start(
        List.of("-Dport=0", "-Didempotency.lock-timeout=soon"), Map.of())) {
      int exit = jar.awaitExit();

      assertThat(exit).isEqualTo(1);
      assertThat(jar.output())
          .anySatisfy(line -> assertThat(line)
              .startsWith("sample-webapp: cannot start: ")
              .contains("lock-timeout").contains("soon"))
          .noneSatisfy(line -> assertThat(line).startsWith("\tat "));
    }
  }

  private static final String SECRET_BODY = "{\"item\":\"card 4242424242424242\",\"quantity\":1}";

  @Test
  void logsEachOutcomeWithTheKeysHashPrefixNeverTheKeyOrBody() throws Exception {
    try (RunningJar jar = RunningJar.start(List.of("-Dport=0", "-Didempotency.admin.token=t",
        "-Dorg.slf4j.simpleLogger.log.dev.idempotency=debug"), Map.of())) {
      Http1Client http = jar.awaitListening();
      String key = "customer-key-" + UUID.randomUUID();

      assertThat(http.post("/api/orders", JSON, SECRET_BODY, "Idempotency-Key", key).statusCode())
          .isEqualTo(201);
      String series = "idempotency_store_seconds_count{op=\"complete\",store=\"memory\"}";
      await().atMost(Duration.ofSeconds(10))
          .until(() -> SampleServer.parse(http.get("/metrics").body()).get(series) == 1.0);
      http.post("/api/orders", JSON, SECRET_BODY, "Idempotency-Key", key);
      http.post("/api/orders", JSON, "{\"item\":\"pen\",\"quantity\":1}", "Idempotency-Key", key);
      http.post("/api/orders", JSON, SECRET_BODY, "Idempotency-Key", "");
      String storeKey = MAPPER.readTree(http.get("/admin/keys?scope=anonymous&key=" + key,
          "Authorization", "Bearer t").body()).get("storeKey").asText();
      String prefix = storeKey.substring(0, 12);

      await().atMost(Duration.ofSeconds(10)).until(() -> jar.output().stream()
          .anyMatch(line -> line.contains("DEBUG") && line.contains("mismatch on key " + prefix)));
      List<String> lines = jar.output();
      assertThat(lines).anyMatch(line -> line.contains("DEBUG")
          && line.contains("executing key " + prefix));
      assertThat(lines).anyMatch(line -> line.contains("DEBUG")
          && line.contains("replayed key " + prefix));
      assertThat(lines).anyMatch(line -> line.contains("DEBUG") && line.contains("invalid"));
      assertThat(lines).noneMatch(line -> line.contains(key) || line.contains("4242")
          || line.contains(storeKey));
    }
  }

  @Test
  void failOpenIsLoggedAsAWarningWithTheKeysHashPrefix() throws Exception {
    int closedPort;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = probe.getLocalPort();
    }
    try (RunningJar jar = RunningJar.start(List.of("-Dport=0", "-Didempotency.store=redis",
        "-Didempotency.redis.uri=redis://127.0.0.1:" + closedPort), Map.of())) {
      Http1Client http = jar.awaitListening();
      String key = "customer-key-" + UUID.randomUUID();

      HttpResponse<String> response =
          http.post("/api/orders", JSON, SECRET_BODY, "Idempotency-Key", key);

      assertThat(response.statusCode()).isEqualTo(201);
      await().atMost(Duration.ofSeconds(10)).until(() -> jar.output().stream()
          .anyMatch(line -> line.contains("WARN") && line.contains("fail-mode=open")));
      assertThat(jar.output()).filteredOn(line -> line.contains("fail-mode=open"))
          .singleElement().asString().matches(".*for key [0-9a-f]{12};.*");
      assertThat(jar.output()).noneMatch(line -> line.contains(key) || line.contains("4242"));
    }
  }
}
