package dev.idempotency.sample;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import org.eclipse.jetty.ee10.webapp.WebAppContext;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The unchanged war in Jetty 12 (ee10), deployed as Jetty deploys any war. */
class WarInJettyIT extends DeployedWarScenarios {

  private static Server server;
  private static Http1Client http;

  @BeforeAll
  static void deploy(@TempDir Path temp) throws Exception {
    server = new Server(new InetSocketAddress("127.0.0.1", 0));
    WebAppContext webapp = new WebAppContext();
    webapp.setContextPath("/");
    webapp.setWar(war().toAbsolutePath().toString());
    webapp.setTempDirectory(temp.toFile());
    webapp.setThrowUnavailableOnStartupException(true);
    server.setHandler(webapp);
    server.start();
    http = new Http1Client(URI.create("http://127.0.0.1:" + Main.localPort(server) + "/"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.stop();
    }
  }

  @Override
  Http1Client http() {
    return http;
  }
}
