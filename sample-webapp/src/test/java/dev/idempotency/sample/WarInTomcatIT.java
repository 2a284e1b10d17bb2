package dev.idempotency.sample;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Path;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleState;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.scan.StandardJarScanner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The unchanged war in embedded Tomcat 11. */
class WarInTomcatIT extends DeployedWarScenarios {

  private static Tomcat tomcat;
  private static Http1Client http;

  @BeforeAll
  static void deploy(@TempDir Path base) throws Exception {
    tomcat = new Tomcat();
    tomcat.setBaseDir(base.toString());
    tomcat.getHost().setAppBase(emptyDirectory(base, "webapps").toString());
    Connector connector = new Connector();
    connector.setPort(0);
    connector.setProperty("address", "127.0.0.1");
    tomcat.setConnector(connector);
    // the war's own web.xml only: no JSP servlet (Jasper is not on the class path)
    tomcat.setAddDefaultWebXmlToWebapp(false);
    Context context = tomcat.addWebapp("", war().toAbsolutePath().toString());
    // scan the war's WEB-INF/lib as any Tomcat would, not this test's class path
    StandardJarScanner scanner = new StandardJarScanner();
    scanner.setScanClassPath(false);
    context.setJarScanner(scanner);
    tomcat.start();
    assertThat(context.getState()).as("the webapp started in Tomcat").isEqualTo(LifecycleState.STARTED);
    http = new Http1Client(URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (tomcat != null) {
      tomcat.stop();
      tomcat.destroy();
    }
  }

  @Override
  Http1Client http() {
    return http;
  }
}
