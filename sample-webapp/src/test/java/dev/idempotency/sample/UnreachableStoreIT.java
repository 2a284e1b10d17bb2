package dev.idempotency.sample;

import static dev.idempotency.sample.Http1Client.JSON;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The sample started against a Redis or PostgreSQL that is not there: one line, then serving. */
class UnreachableStoreIT {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String ORDER = "{\"item\":\"book\",\"quantity\":1}";

  @Test
  void unreachableRedisIsOneErrorLineAndFailOpenKeepsServing() throws Exception {
    try (RunningJar jar = RunningJar.start(List.of("-Dport=0", "-Didempotency.store=redis",
        "-Didempotency.redis.uri=redis://127.0.0.1:" + closedPort()), Map.of())) {
      Http1Client http = jar.awaitListening();

      HttpResponse<String> first = http.post("/api/orders", JSON, ORDER, "Idempotency-Key", "k1");
      HttpResponse<String> retry = http.post("/api/orders", JSON, ORDER, "Idempotency-Key", "k1");

      assertThat(first.statusCode()).isEqualTo(201);
      assertThat(retry.statusCode()).isEqualTo(201);
      assertThat(retry.headers().firstValue("Idempotent-Replayed")).isEmpty();
      assertThat(http.executions()).as("fail-mode=open executes unprotected").isEqualTo(2);
      assertOneClearLine(jar.output(), "'redis' could not be opened at start-up", "cannot connect to Redis");
    }
  }

  @Test
  void unreachablePostgresIsOneErrorLineAndFailClosedAnswers503() throws Exception {
    try (RunningJar jar = RunningJar.start(List.of("-Dport=0", "-Didempotency.store=jdbc",
        "-Didempotency.fail-mode=closed", "-Didempotency.jdbc.user=postgres",
        "-Didempotency.jdbc.url=jdbc:postgresql://127.0.0.1:" + closedPort() + "/test"),
        Map.of())) {
      Http1Client http = jar.awaitListening();

      HttpResponse<String> response =
          http.post("/api/orders", JSON, ORDER, "Idempotency-Key", "k1");

      assertThat(response.statusCode()).isEqualTo(503);
      assertThat(response.headers().firstValue("Retry-After")).hasValue("5");
      assertThat(MAPPER.readTree(response.body()).get("type").asText())
          .isEqualTo("urn:problem-type:idempotency:store-unavailable");
      assertThat(http.executions()).isZero();
      assertOneClearLine(jar.output(), "'jdbc' could not be opened at start-up", "cannot connect to");
    }
  }

  private static void assertOneClearLine(List<String> output, String... parts) {
    assertThat(output)
        .filteredOn(line -> line.contains("could not be opened at start-up"))
        .singleElement()
        .satisfies(line -> assertThat(line).contains("ERROR").contains(parts)
            .contains("idempotency.fail-mode"));
    assertThat(output).noneSatisfy(line -> assertThat(line).startsWith("\tat "));
  }

  private static int closedPort() throws Exception {
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return probe.getLocalPort();
    }
  }
}
