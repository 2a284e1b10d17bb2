package dev.idempotency.sample;

import dev.idempotency.spi.StoreException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.util.HashSet;
import java.util.Set;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.FilterMapping;
import org.eclipse.jetty.ee10.webapp.WebAppContext;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.resource.ResourceFactory;

/**
 * Runs the sample webapp in embedded Jetty 12: {@code java -jar sample-webapp.jar}. Deploys the
 * same {@code WEB-INF/web.xml} as the war, so the filter is configured exactly as in a container;
 * every {@code idempotency.*} system property and {@code IDEMPOTENCY_*} environment variable is
 * read by the filter itself. The port comes from {@code -Dport}, else {@code PORT}, else 8080.
 * {@code -Dsample.filter=none} deploys the webapp without any filter at all — not registered,
 * not initialised — as the baseline of the HTTP benchmark ({@code benchmarks/run.sh}); {@code
 * idempotency.enabled=false} would still run the filter's first checks per request.
 * Not thread-safe; used once from {@code main}.
 */
public final class Main {

  /** Where the webapp directory ({@code src/main/webapp}) sits on the class path. */
  static final String WEBAPP = "/sample-webapp/";

  private Main() {}

  public static void main(String[] args) throws Exception {
    int port;
    try {
      port = port(System.getProperty("port"), System.getenv("PORT"));
      filters(System.getProperty("sample.filter"));
    } catch (IllegalArgumentException e) {
      System.err.println("sample-webapp: " + e.getMessage());
      System.exit(2);
      return;
    }
    Server server;
    try {
      server = start(port);
    } catch (Exception e) {
      System.err.println("sample-webapp: cannot start: " + reason(e));
      System.exit(1);
      return;
    }
    System.out.println(
        "sample-webapp: listening on http://localhost:" + localPort(server) + "/api/orders"
            + (filters(System.getProperty("sample.filter")) ? "" : " (no filter)"));
    server.join();
  }

  /**
   * Starts Jetty on {@code port} (0 picks a free one) with the webapp deployed at {@code /}.
   *
   * @throws Exception when Jetty or the webapp fails to start, e.g. the filter cannot reach
   *     its store; the server is stopped then
   */
  static Server start(int port) throws Exception {
    return start(new InetSocketAddress(port), webappDirectory(),
        filters(System.getProperty("sample.filter")));
  }

  /** Starts Jetty on {@code address} with the webapp in {@code webappDirectory} at {@code /}. */
  static Server start(InetSocketAddress address, URI webappDirectory) throws Exception {
    return start(address, webappDirectory, true);
  }

  /** Whether to keep web.xml's filters: {@code -Dsample.filter} unset or {@code web.xml}. */
  static boolean filters(String property) {
    if (property == null || property.isBlank() || property.trim().equals("web.xml")) {
      return true;
    }
    if (property.trim().equals("none")) {
      return false;
    }
    throw new IllegalArgumentException("-Dsample.filter must be web.xml or none: " + property);
  }

  /**
   * Starts Jetty on {@code address} with the webapp in {@code webappDirectory} at {@code /};
   * without web.xml's filters unless {@code withFilters}.
   */
  static Server start(InetSocketAddress address, URI webappDirectory, boolean withFilters)
      throws Exception {
    Server server = new Server(address);
    WebAppContext webapp = withFilters ? new WebAppContext() : new WebAppContext() {
      @Override
      protected void startWebapp() throws Exception {
        // web.xml has been applied by now and no filter has been initialised yet.
        getServletHandler().setFilterMappings(new FilterMapping[0]);
        getServletHandler().setFilters(new FilterHolder[0]);
        super.startWebapp();
      }
    };
    webapp.setContextPath("/");
    webapp.setBaseResource(ResourceFactory.of(webapp).newResource(webappDirectory));
    // The runnable jar holds every class on the system class path; there is no WEB-INF/lib.
    webapp.setParentLoaderPriority(true);
    // A filter that fails in init (store unreachable, bad setting) fails start-up, not requests.
    webapp.setThrowUnavailableOnStartupException(true);
    server.setHandler(webapp);
    server.setStopAtShutdown(true);
    try {
      server.start();
    } catch (Exception e) {
      try {
        server.stop();
      } catch (Exception stop) {
        e.addSuppressed(stop);
      }
      throw e;
    }
    return server;
  }

  static int localPort(Server server) {
    return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
  }

  /** {@code -Dport}, else {@code PORT}, else 8080. */
  static int port(String property, String environment) {
    String source = property != null ? "-Dport" : "PORT";
    String value = property != null ? property : environment;
    if (value == null || value.isBlank()) {
      return 8080;
    }
    try {
      int port = Integer.parseInt(value.trim());
      if (port >= 0 && port <= 65_535) {
        return port;
      }
    } catch (NumberFormatException e) {
      // answered below, naming the value
    }
    throw new IllegalArgumentException(source + " must be a port number from 0 to 65535: " + value);
  }

  /**
   * One line saying why start-up failed: the message of the first cause that is one of ours (a
   * store that cannot be reached, a bad setting), else the innermost cause.
   */
  static String reason(Throwable failure) {
    Throwable ours = firstOfOurs(failure, new HashSet<>());
    if (ours != null) {
      return ours.getMessage();
    }
    Throwable innermost = failure;
    while (innermost.getCause() != null && innermost.getCause() != innermost) {
      innermost = innermost.getCause();
    }
    String message = innermost.getMessage();
    String name = innermost.getClass().getSimpleName();
    return message == null ? name : name + ": " + message;
  }

  private static Throwable firstOfOurs(Throwable t, Set<Throwable> seen) {
    if (t == null || !seen.add(t)) {
      return null;
    }
    if (t instanceof StoreException || t instanceof IllegalArgumentException) {
      return t;
    }
    Throwable found = firstOfOurs(t.getCause(), seen);
    for (Throwable suppressed : t.getSuppressed()) {
      if (found == null) {
        found = firstOfOurs(suppressed, seen);
      }
    }
    return found;
  }

  static URI webappDirectory() throws URISyntaxException {
    // Found through its web.xml: a jar need not hold entries for directories.
    String descriptor = "WEB-INF/web.xml";
    URL url = Main.class.getResource(WEBAPP + descriptor);
    if (url == null) {
      throw new IllegalStateException(WEBAPP + descriptor + " is missing from the class path");
    }
    String uri = url.toURI().toString();
    return new URI(uri.substring(0, uri.length() - descriptor.length()));
  }
}
