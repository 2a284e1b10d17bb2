package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.idempotency.IdempotencyFilter;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.ServletContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collections;
import java.util.Enumeration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.naming.InitialContext;
import javax.naming.NamingException;
import javax.sql.DataSource;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleState;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.ContextEnvironment;
import org.apache.tomcat.util.descriptor.web.ContextResource;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * {@code idempotency.jdbc.datasource}: the filter, configured by init-params only as a web.xml
 * would, on the DataSource an embedded Tomcat 11 binds in JNDI ({@code <Resource>} of a
 * context.xml: HikariCP's JNDI factory on a database of its own), over real HTTP.
 */
class JndiDataSourceHttpTest {

  private static final String NAME = "java:comp/env/jdbc/app";
  private static final String BOTH_SET =
      "idempotency.jdbc.datasource and idempotency.jdbc.url are both set";
  /** The container pool's database; the server's {@code postgres} database stays untouched. */
  private static final String APP_DATABASE = "app";
  private static PostgresProcess pg;
  private static String namingFactory;
  private static String namingPackages;

  @BeforeAll
  static void startPostgres() throws SQLException {
    namingFactory = System.getProperty("java.naming.factory.initial");
    namingPackages = System.getProperty("java.naming.factory.url.pkgs");
    pg = PostgresProcess.start();
    try (Connection c = pg.dataSource().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + APP_DATABASE);
    }
  }

  @AfterAll
  static void stopPostgres() {
    pg.close();
    // Tomcat.enableNaming() set them for the whole JVM.
    restore("java.naming.factory.initial", namingFactory);
    restore("java.naming.factory.url.pkgs", namingPackages);
  }

  private static void restore(String property, String value) {
    if (value == null) {
      System.clearProperty(property);
    } else {
      System.setProperty(property, value);
    }
  }

  @Test
  void filterConfiguredByInitParamsStoresInTheContainersDataSourceAndLeavesItOpen()
      throws Exception {
    AtomicInteger executions = new AtomicInteger();
    AtomicReference<DataSource> applicationsDataSource = new AtomicReference<>();
    IdempotencyFilter filter = new IdempotencyFilter();
    HttpServlet orders = new HttpServlet() {
      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        try {
          // The application's own look-up: the same pool the filter was given.
          applicationsDataSource.set((DataSource) new InitialContext().lookup(NAME));
        } catch (NamingException e) {
          throw new IOException(e);
        }
        resp.setStatus(201);
        resp.getWriter().print("order " + executions.incrementAndGet());
      }
    };
    Map<String, String> initParams = Map.of(
        "store", "jdbc", "jdbc.datasource", NAME, "jdbc.create-schema", "true");
    Tomcat tomcat = tomcat(filter, initParams, orders, false);
    try {
      assertThat(filter.store()).as("built at start-up, not deferred")
          .isInstanceOf(JdbcStore.class);
      HttpClient http = HttpClient.newHttpClient();
      HttpRequest order = HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + tomcat.getConnector().getLocalPort() + "/orders"))
          .header("Idempotency-Key", "jndi-1")
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"item\":\"book\"}"))
          .build();
      HttpResponse<String> first = http.send(order, HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> retry = http.send(order, HttpResponse.BodyHandlers.ofString());

      assertThat(first.statusCode()).isEqualTo(201);
      assertThat(first.headers().firstValue("Idempotent-Replayed")).isEmpty();
      assertThat(retry.statusCode()).isEqualTo(201);
      assertThat(retry.body()).isEqualTo("order 1");
      assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
      assertThat(executions).hasValue(1);
      assertThat(completedRecords(appDatabase())).isEqualTo(1);
      try (Connection c = pg.dataSource().getConnection(); Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT to_regclass('idempotency_record') IS NULL")) {
        rs.next();
        assertThat(rs.getBoolean(1)).as("no table in the server's other database").isTrue();
      }

      Context context = (Context) tomcat.getHost().findChildren()[0];
      context.stop(); // destroys the filter, which closes its store
      assertThat(context.getState()).isEqualTo(LifecycleState.STOPPED);

      HikariDataSource pool = (HikariDataSource) applicationsDataSource.get();
      assertThat(pool.isClosed()).as("the container's pool, after the filter was destroyed")
          .isFalse();
      assertThat(completedRecords(pool)).isEqualTo(1);
    } finally {
      if (applicationsDataSource.get() instanceof HikariDataSource pool) {
        pool.close(); // its closeMethod is off: Tomcat leaves it to the test
      }
      tomcat.stop();
      tomcat.destroy();
    }
  }

  @Test
  void badDataSourceSettingsStopStartUpNamingTheSetting() throws Exception {
    Tomcat tomcat = tomcat(null, Map.of(), new HttpServlet() {}, true);
    ClassLoader before = Thread.currentThread().getContextClassLoader();
    try {
      // The webapp's class loader selects its java:comp, as on the container's own threads.
      Context context = (Context) tomcat.getHost().findChildren()[0];
      Thread.currentThread().setContextClassLoader(context.getLoader().getClassLoader());

      assertThatThrownBy(() -> init(Map.of("store", "jdbc", "jdbc.datasource", NAME,
          "jdbc.url", pg.jdbcUrl() + "?password=hunter2")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(BOTH_SET)
          .hasMessageNotContaining("hunter2");
      assertThatThrownBy(() -> init(Map.of("store", "redis+jdbc", "jdbc.datasource", NAME,
          "jdbc.url", pg.jdbcUrl())))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(BOTH_SET);
      assertThatThrownBy(() -> init(Map.of("store", "jdbc",
          "jdbc.datasource", "java:comp/env/jdbc/missing")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("idempotency.jdbc.datasource must be the JNDI name of a "
              + "DataSource: 'java:comp/env/jdbc/missing' (NameNotFoundException: ");
      assertThatThrownBy(() -> init(Map.of("store", "redis+jdbc",
          "jdbc.datasource", "java:comp/env/jdbc/notADataSource")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("idempotency.jdbc.datasource must be the JNDI name of a DataSource: "
              + "'java:comp/env/jdbc/notADataSource' is bound to a java.lang.String");
    } finally {
      Thread.currentThread().setContextClassLoader(before);
      tomcat.stop();
      tomcat.destroy();
    }
  }

  /** A filter's start-up as the container runs it, with these init-params only. */
  private static void init(Map<String, String> initParams) throws Exception {
    new IdempotencyFilter().init(new FilterConfig() {
      @Override
      public String getFilterName() {
        return "idempotency";
      }

      @Override
      public ServletContext getServletContext() {
        throw new AssertionError("start-up should have failed before");
      }

      @Override
      public String getInitParameter(String name) {
        return initParams.get(name);
      }

      @Override
      public Enumeration<String> getInitParameterNames() {
        return Collections.enumeration(initParams.keySet());
      }
    });
  }

  /**
   * Tomcat with naming on: {@code jdbc/app} a HikariCP pool on {@link #APP_DATABASE} as a
   * context.xml {@code <Resource factory="com.zaxxer.hikari.HikariJNDIFactory">} would bind it,
   * {@code jdbc/notADataSource} a string; the filter (if any) on /* with these init-params, the
   * servlet on /orders. Tomcat closes a DataSource resource at context stop unless told
   * otherwise (its default closeMethod is {@code close}); without {@code containerCloses} the
   * pool is closed after the stop only if the filter closed it.
   */
  private static Tomcat tomcat(IdempotencyFilter filter, Map<String, String> initParams,
      HttpServlet servlet, boolean containerCloses) throws Exception {
    Path base = Files.createTempDirectory("tomcat");
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(base.toString());
    tomcat.enableNaming();
    Connector connector = new Connector();
    connector.setPort(0);
    connector.setProperty("address", "127.0.0.1");
    tomcat.setConnector(connector);
    Context ctx = tomcat.addContext("", base.toString());

    ContextResource pool = new ContextResource();
    pool.setName("jdbc/app");
    pool.setType(DataSource.class.getName());
    pool.setAuth("Container");
    pool.setProperty("factory", "com.zaxxer.hikari.HikariJNDIFactory");
    pool.setProperty("driverClassName", JdbcStore.DRIVER);
    pool.setProperty("jdbcUrl", pg.jdbcUrl().replace("/postgres", "/" + APP_DATABASE));
    pool.setProperty("username", pg.user());
    pool.setProperty("maximumPoolSize", "4");
    pool.setProperty("poolName", "container-app");
    if (!containerCloses) {
      pool.setCloseMethod("");
    }
    ctx.getNamingResources().addResource(pool);
    ContextEnvironment notADataSource = new ContextEnvironment();
    notADataSource.setName("jdbc/notADataSource");
    notADataSource.setType(String.class.getName());
    notADataSource.setValue("not a pool");
    ctx.getNamingResources().addEnvironment(notADataSource);

    if (filter != null) {
      FilterDef fd = new FilterDef();
      fd.setFilterName("idempotency");
      fd.setFilter(filter);
      initParams.forEach(fd::addInitParameter);
      ctx.addFilterDef(fd);
      FilterMap fm = new FilterMap();
      fm.setFilterName("idempotency");
      fm.addURLPattern("/*");
      ctx.addFilterMap(fm);
    }
    Tomcat.addServlet(ctx, "orders", servlet);
    ctx.addServletMappingDecoded("/orders", "orders");
    tomcat.start();
    return tomcat;
  }

  private static DataSource appDatabase() {
    PGSimpleDataSource ds = (PGSimpleDataSource) pg.dataSource();
    ds.setDatabaseName(APP_DATABASE);
    return ds;
  }

  private static int completedRecords(DataSource dataSource) throws SQLException {
    try (Connection c = dataSource.getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(
            "SELECT count(*) FROM idempotency_record WHERE status = 201")) {
      rs.next();
      return rs.getInt(1);
    }
  }
}
