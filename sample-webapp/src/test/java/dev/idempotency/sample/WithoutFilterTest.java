package dev.idempotency.sample;

import static dev.idempotency.sample.Http1Client.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpResponse;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.Test;

/** {@code -Dsample.filter=none}: the webapp without any filter, the benchmark's baseline. */
class WithoutFilterTest {

  @Test
  void sameKeyExecutesTwiceWithoutTheFilter() throws Exception {
    Server server =
        Main.start(new InetSocketAddress("127.0.0.1", 0), Main.webappDirectory(), false);
    try {
      Http1Client http =
          new Http1Client(URI.create("http://127.0.0.1:" + Main.localPort(server) + "/"));
      long before = http.executions();

      HttpResponse<String> first = http.post("/api/orders", JSON,
          "{\"item\":\"book\",\"quantity\":1}", "Idempotency-Key", "same-key");
      HttpResponse<String> second = http.post("/api/orders", JSON,
          "{\"item\":\"book\",\"quantity\":1}", "Idempotency-Key", "same-key");

      assertThat(first.statusCode()).isEqualTo(201);
      assertThat(second.statusCode()).isEqualTo(201);
      assertThat(second.headers().firstValue("Idempotent-Replayed")).isEmpty();
      assertThat(second.body()).isNotEqualTo(first.body());
      assertThat(http.executions()).isEqualTo(before + 2);
    } finally {
      server.stop();
    }
  }

  @Test
  void filterPropertyAcceptsWebXmlOrNone() {
    assertThat(Main.filters(null)).isTrue();
    assertThat(Main.filters("web.xml")).isTrue();
    assertThat(Main.filters("none")).isFalse();
    assertThatThrownBy(() -> Main.filters("off"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("-Dsample.filter must be web.xml or none: off");
  }
}
