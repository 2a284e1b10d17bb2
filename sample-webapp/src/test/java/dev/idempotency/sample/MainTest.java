package dev.idempotency.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.idempotency.spi.StoreException;
import jakarta.servlet.UnavailableException;
import java.net.ConnectException;
import org.junit.jupiter.api.Test;

/** How {@link Main} reads its port and explains a failed start. */
class MainTest {

  @Test
  void portDefaultsTo8080() {
    assertThat(Main.port(null, null)).isEqualTo(8080);
  }

  @Test
  void portComesFromEnvironmentWithoutProperty() {
    assertThat(Main.port(null, "9090")).isEqualTo(9090);
  }

  @Test
  void portPropertyWinsOverEnvironment() {
    assertThat(Main.port("7070", "9090")).isEqualTo(7070);
  }

  @Test
  void badPortNamesTheSettingAndValue() {
    assertThatThrownBy(() -> Main.port("eighty", null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("-Dport must be a port number from 0 to 65535: eighty");
    assertThatThrownBy(() -> Main.port(null, "70000"))
        .hasMessage("PORT must be a port number from 0 to 65535: 70000");
  }

  @Test
  void reasonIsTheStoreMessageWhereverJettyWrappedIt() {
    StoreException store =
        new StoreException("redis", "cannot connect to redis://127.0.0.1:1",
            new ConnectException("Connection refused"));
    UnavailableException jetty = new UnavailableException("Filter idempotency failed");
    jetty.initCause(store);
    Exception startup = new Exception("start failed", jetty);
    startup.addSuppressed(new IllegalStateException("closed"));

    assertThat(Main.reason(startup)).isEqualTo("redis: cannot connect to redis://127.0.0.1:1");
  }

  @Test
  void reasonIsTheBadSettingMessage() {
    Exception startup = new Exception("start failed",
        new IllegalArgumentException("idempotency.lock-timeout must be a duration: soon"));

    assertThat(Main.reason(startup))
        .isEqualTo("idempotency.lock-timeout must be a duration: soon");
  }

  @Test
  void reasonFallsBackToTheInnermostCause() {
    Exception startup = new Exception("outer", new IllegalStateException("inner"));

    assertThat(Main.reason(startup)).isEqualTo("IllegalStateException: inner");
  }
}
