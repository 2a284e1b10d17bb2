package dev.idempotency.sample;

import static dev.idempotency.sample.Http1Client.JSON;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
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
}
