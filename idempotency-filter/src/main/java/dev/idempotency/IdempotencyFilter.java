package dev.idempotency;

import dev.idempotency.IdempotencyConfig.FailMode;
import dev.idempotency.IdempotencyConfig.InFlightMode;
import dev.idempotency.IdempotencyConfig.KeyFormat;
import dev.idempotency.IdempotencyConfig.KeyMode;
import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.DeferredStore;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;
import dev.idempotency.spi.StoredResponse;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The servlet filter that runs a retried or double-fired request once and replays its response
 * to the others (SPEC §1–§7). Register it in {@code web.xml} — settings come from init-params,
 * environment variables and system properties ({@link Settings}) — or build one with
 * {@link #builder(IdempotencyStore)}. Thread-safe: one instance serves all requests.
 */
public final class IdempotencyFilter implements Filter {

  /** The servlet-context attribute under which a filter from web.xml publishes itself. */
  public static final String CONTEXT_ATTRIBUTE = IdempotencyFilter.class.getName();

  /** The header a replayed response carries. */
  public static final String REPLAYED_HEADER = "Idempotent-Replayed";

  private static final Logger log = LoggerFactory.getLogger(IdempotencyFilter.class);
  static final String FORM = "application/x-www-form-urlencoded";
  private static final long FAIL_CLOSED_RETRY_AFTER_SECONDS = 5;
  /** How long a retry waits for a same-JVM owner whose client already has the response. */
  private static final Duration ENDED_RESPONSE_WAIT = Duration.ofSeconds(2);
  /** How often a store that was unreachable at start-up is tried again. */
  private static final Duration STORE_RETRY_EVERY = Duration.ofSeconds(5);
  /** How long {@link #destroy} waits for the scheduler's thread to end. */
  private static final Duration SCHEDULER_STOP_WAIT = Duration.ofSeconds(2);
  private static final long POLL_START_MS = 5;
  private static final long POLL_MAX_MS = 200;

  private IdempotencyConfig config;
  private IdempotencyStore store;
  private boolean ownsStore;
  private Clock clock;
  private IdempotencyListener listener;
  private KeyResolver keys;
  private Fingerprint fingerprint;
  private ScheduledThreadPoolExecutor scheduler;
  /** The scheduler's one thread: {@link #destroy} returns once it ended. */
  private volatile Thread schedulerThread;
  private final Map<String, LocalWaiters> localWaiters = new ConcurrentHashMap<>();
  private final Map<String, Run> localRuns = new ConcurrentHashMap<>();
  /** Background complete/release retries scheduled and not yet run. */
  private final java.util.concurrent.atomic.AtomicInteger pendingRetries =
      new java.util.concurrent.atomic.AtomicInteger();
  /** Every run holding a lock; one periodic sweep renews those whose lease is due. */
  private final Set<Run> running = ConcurrentHashMap.newKeySet();
  /**
   * What {@code idempotency.enabled} and {@code idempotency.rollout.percent} fall back to when
   * their property is cleared at run time: the environment's or init-param's value, else the
   * default (one a start-up property overrode may be bad: then the value started with).
   */
  private volatile boolean enabledBeneath;
  private volatile int rolloutBeneath;
  /** Runs counted in the in-flight gauge: left by {@code finish}, or by {@code destroy}. */
  private final Set<Run> counted = ConcurrentHashMap.newKeySet();

  /** For {@code web.xml}: settings are read in {@link #init(FilterConfig)}. */
  public IdempotencyFilter() {}

  private IdempotencyFilter(Builder builder) {
    Settings settings = Settings.from(builder.values::get, builder.environment,
        builder.systemProperties);
    switches(builder.values::get, builder.environment, settings.config());
    start(settings.config(), builder.store, false, builder.clock, builder.listener,
        builder.scope);
  }

  /** A builder over {@code store}; settings not given fall back to SPEC §9 defaults. */
  public static Builder builder(IdempotencyStore store) {
    return new Builder(store);
  }

  private void start(
      IdempotencyConfig config,
      IdempotencyStore store,
      boolean ownsStore,
      Clock clock,
      IdempotencyListener listener,
      Function<HttpServletRequest, String> scope) {
    this.config = config;
    this.store = store;
    this.ownsStore = ownsStore;
    this.clock = clock;
    this.listener = listener;
    this.keys = new KeyResolver(config.header(), config.keyFormat(), config.scopeHeader(),
        config.scopeCookie(), scope);
    this.fingerprint = new Fingerprint(config.ignoreFields());
    this.scheduler = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "idempotency-lease");
      t.setDaemon(true);
      schedulerThread = t;
      return t;
    });
    scheduler.setRemoveOnCancelPolicy(true);
    // A task per request cost a lock on the scheduler's queue twice (schedule, cancel), and most
    // requests finish long before their first renewal is due.
    long sweepMs = Math.max(1, config.lockTimeout().toMillis() / 6);
    scheduler.scheduleWithFixedDelay(this::renewDue, sweepMs, sweepMs, TimeUnit.MILLISECONDS);
    listener.storeOpened(store);
  }

  @Override
  public void init(FilterConfig filterConfig) throws ServletException {
    if (config == null) {
      Settings settings = Settings.from(filterConfig::getInitParameter);
      switches(filterConfig::getInitParameter, System::getenv, settings.config());
      start(settings.config(), openStore(settings), true, Clock.systemUTC(),
          defaultListener(), null);
      log.info("idempotency filter on store '{}' ({})", settings.store(), store.name());
    }
    // The operator endpoint and the sample's dashboard find the filter here.
    filterConfig.getServletContext().setAttribute(CONTEXT_ATTRIBUTE, this);
  }

  /** Micrometer's global registry when Micrometer is on the classpath; else nothing. */
  static IdempotencyListener defaultListener() {
    try {
      Class.forName("io.micrometer.core.instrument.Metrics", false,
          IdempotencyFilter.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      return IdempotencyListener.NONE;
    }
    return MicrometerListener.global();
  }

  private static IdempotencyStore openStore(Settings settings) {
    String name = settings.store();
    if (name.equals("memory")) {
      return new MemoryStore();
    }
    for (StoreProvider provider :
        ServiceLoader.load(StoreProvider.class, IdempotencyFilter.class.getClassLoader())) {
      if (provider.name().equals(name)) {
        return open(provider, settings.storeSettings());
      }
    }
    throw new IllegalArgumentException("idempotency.store: no store named '" + name
        + "' on the classpath (memory is built in; add idempotency-store-redis for redis, "
        + "idempotency-store-jdbc for jdbc and redis+jdbc)");
  }

  /**
   * The provider's store, or, if its backend is down now, one built on first use: the
   * application starts anyway and requests follow the fail mode until the store is reached.
   */
  private static IdempotencyStore open(StoreProvider provider, StoreSettings settings) {
    try {
      return provider.create(settings);
    } catch (StoreException e) {
      log.error("idempotency store '{}' could not be opened at start-up: {}. Requests follow "
          + "idempotency.fail-mode until it can be reached; retrying every {}s.",
          provider.name(), e.getMessage(), STORE_RETRY_EVERY.toSeconds());
      return new DeferredStore(provider.name(), () -> provider.create(settings),
          STORE_RETRY_EVERY, Clock.systemUTC(), e);
    }
  }

  /** The settings this filter runs with. */
  public IdempotencyConfig config() {
    return config;
  }

  /** The store this filter uses. */
  public IdempotencyStore store() {
    return store;
  }

  @Override
  public void destroy() {
    if (scheduler != null) {
      scheduler.shutdownNow();
      // Never silent (SPEC §8): what the shutdown dropped is counted and logged.
      int dropped = pendingRetries.getAndSet(0);
      for (int i = 0; i < dropped; i++) {
        listener.completeRetried(false);
      }
      if (dropped > 0) {
        log.warn("{} background complete/release retries dropped at shutdown; their keys' locks "
            + "expire by themselves", dropped);
      }
      // A container looks for the webapp's threads right after destroy(): one still ending is
      // reported as a leak.
      Thread thread = schedulerThread;
      if (thread != null && thread != Thread.currentThread()) {
        try {
          thread.join(SCHEDULER_STOP_WAIT.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    // A container may stop without completing an open async request: its run never finishes.
    for (Run run : counted) {
      if (counted.remove(run)) {
        listener.inFlight(-1);
      }
    }
    if (store != null) {
      listener.storeClosed(store);
    }
    if (ownsStore && store != null) {
      store.close();
    }
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    if (!(req instanceof HttpServletRequest request)
        || !(res instanceof HttpServletResponse response)
        || request.getDispatcherType() != jakarta.servlet.DispatcherType.REQUEST) {
      chain.doFilter(req, res);
      return;
    }
    String path = pathOf(request);
    if (!config.covers(request.getMethod(), path)) {
      chain.doFilter(req, res);
      return;
    }
    if (!enabled()) {
      bypass(request, response, chain, "disabled (idempotency.enabled=false)");
      return;
    }
    String contentType = contentType(request);
    KeyResolver.Parsed parsed = keys.key(request);
    if (parsed.invalid() != null) {
      discardBody(request, response, config.maxRequestBytes(), false);
      reject(response, Outcome.INVALID, Problem.INVALID_KEY, parsed.invalid(), null);
      return;
    }
    boolean keyed = parsed.key() != null;
    if (!keyed && config.keyMode() == KeyMode.REQUIRED) {
      discardBody(request, response, config.maxRequestBytes(), false);
      reject(response, Outcome.INVALID, Problem.KEY_REQUIRED,
          "This request needs an " + config.header() + " header.", null);
      return;
    }
    if (contentType != null && Fingerprint.mimeType(contentType).startsWith("multipart/")) {
      // The container parses parts from the raw stream, which the filter would have consumed.
      // The key was still checked: a bad one, or none in required mode, is refused as always.
      bypass(request, response, chain, "multipart body");
      return;
    }
    if (!keyed && config.keyMode() == KeyMode.KEY_ONLY) {
      bypass(request, response, chain, "no key (key-only mode)");
      return;
    }
    String scope = keys.scope(request);
    String storeKey = keyed ? storeKey("key", scope, parsed.key()) : null;
    if (!keyed && scope.equals(KeyResolver.ANONYMOUS)) {
      // Without a key, two anonymous callers sending the same body would be one request: the
      // double-fire of one client comes from its one address.
      scope = KeyResolver.ANONYMOUS + ":" + request.getRemoteAddr();
    }
    if (keyed && !inRollout(storeKey)) {
      bypass(request, response, chain, "key outside the rollout");
      return;
    }

    long max = config.maxRequestBytes();
    if (request.getContentLengthLong() > max) {
      if (keyed) {
        discardBody(request, response, SWALLOW_BYTES, false);
        reject(response, Outcome.TOO_LARGE, Problem.TOO_LARGE,
            "The body is larger than " + max + " bytes.", storeKey);
      } else {
        bypass(request, response, chain, "keyless body over max-request-bytes");
      }
      return;
    }
    Body body = Body.read(request.getInputStream(), request.getContentLengthLong(), (int) max);
    if (body.overflowed()) {
      if (keyed) {
        discardBody(request, response, SWALLOW_BYTES, true);
        reject(response, Outcome.TOO_LARGE, Problem.TOO_LARGE,
            "The body is larger than " + max + " bytes.", storeKey);
      } else if (FORM.equals(Fingerprint.mimeType(contentType))) {
        // The servlet would read a form whole through getParameter (the container, which limits
        // a form's size, cannot parse a stream the filter began): past the limit it is refused.
        discardBody(request, response, SWALLOW_BYTES, true);
        reject(response, Outcome.TOO_LARGE, Problem.TOO_LARGE,
            "The form is larger than " + max + " bytes.", null);
      } else {
        // Hand on what was read and the rest of the stream: the body reaches the servlet intact.
        bypassed("keyless body over max-request-bytes");
        dispatch(chain, new BufferedBodyRequest(request, body.bytes(), body.length(),
            request.getInputStream()), response);
      }
      return;
    }
    if (FORM.equals(Fingerprint.mimeType(contentType))
        && formFields(body.bytes(), body.length()) > MAX_FORM_FIELDS) {
      // The filter parses forms for the servlet now, so it keeps the containers' default limit
      // (Jetty's maxFormKeys, Tomcat's maxParameterCount): many fields cost CPU and memory.
      reject(response, Outcome.TOO_LARGE, Problem.TOO_LARGE,
          "The form has more than " + MAX_FORM_FIELDS + " fields.", storeKey);
      return;
    }
    BufferedBodyRequest buffered;
    String requestHash;
    if (body.length() == 0 && FORM.equals(Fingerprint.mimeType(contentType))) {
      // An earlier filter may have asked for a parameter, and the container then parsed the form
      // and consumed its body: its parameters are the only copy left (with an empty body, they
      // are the query's alone).
      buffered = BufferedBodyRequest.withContainerParameters(request);
      byte[] form = formText(request.getParameterMap()).getBytes(StandardCharsets.UTF_8);
      requestHash = fingerprint.requestHash(request.getMethod(), path, request.getQueryString(),
          contentType, StandardCharsets.UTF_8, form, form.length);
    } else {
      buffered = new BufferedBodyRequest(request, body.bytes(), body.length(), null);
      requestHash = fingerprint.requestHash(request.getMethod(), path, request.getQueryString(),
          contentType, buffered.charset(), body.bytes(), body.length());
    }
    if (!keyed) {
      storeKey = storeKey("content", scope, requestHash);
      if (!inRollout(storeKey)) {
        bypassed("fingerprint outside the rollout");
        dispatch(chain, buffered, response);
        return;
      }
    }
    handle(buffered, response, chain, storeKey, requestHash, keyed);
  }

  private boolean enabled() {
    String flag = System.getProperty("idempotency.enabled");
    if (flag != null) {
      if (flag.trim().equalsIgnoreCase("true")) {
        return true;
      }
      if (flag.trim().equalsIgnoreCase("false")) {
        return false;
      }
    }
    return enabledBeneath;
  }

  private void switches(Function<String, String> initParams,
      Function<String, String> environment, IdempotencyConfig started) {
    String enabled = Settings.beneathProperties("enabled", initParams, environment);
    enabledBeneath = enabled.equalsIgnoreCase("true")
        || (!enabled.equalsIgnoreCase("false") && started.enabled());
    String rollout = Settings.beneathProperties("rollout.percent", initParams, environment);
    int percent;
    try {
      percent = Integer.parseInt(rollout);
    } catch (NumberFormatException e) {
      percent = -1;
    }
    rolloutBeneath = percent >= 0 && percent <= 100 ? percent : started.rolloutPercent();
  }

  /** Sticky: decided by the scoped key's hash, so a retry gets the same answer. */
  private boolean inRollout(String storeKey) {
    int percent = rolloutBeneath;
    String flag = System.getProperty("idempotency.rollout.percent");
    if (flag != null) {
      try {
        percent = Math.max(0, Math.min(100, Integer.parseInt(flag.trim())));
      } catch (NumberFormatException e) {
        // keep the configured value
      }
    }
    if (percent >= 100) {
      return true;
    }
    if (percent <= 0) {
      return false;
    }
    long bucket = Long.parseLong(storeKey.substring(0, 8), 16) % 100;
    return bucket < percent;
  }

  /**
   * The path inside the context as the container resolved it: decoded, dot segments and
   * {@code ;parameters} gone. The raw URI would let {@code /api/orders;x=1} or {@code
   * /api/%6Frders} reach the servlet of {@code /api/orders} unprotected, with another hash.
   */
  static String pathOf(HttpServletRequest request) {
    String servletPath = request.getServletPath();
    String pathInfo = request.getPathInfo();
    String path = (servletPath == null ? "" : servletPath) + (pathInfo == null ? "" : pathInfo);
    return path.isEmpty() ? "/" : path;
  }

  /**
   * The request's Content-Type. Containers that parse its charset (Jetty) throw for one they do
   * not know; the raw header then stands in, and the servlet meets the error itself if it asks.
   */
  static String contentType(HttpServletRequest request) {
    try {
      return request.getContentType();
    } catch (IllegalArgumentException e) {
      return request.getHeader("Content-Type");
    }
  }

  private static String formText(Map<String, String[]> parameters) {
    StringBuilder text = new StringBuilder();
    parameters.forEach((name, values) -> {
      for (String value : values) {
        if (text.length() > 0) {
          text.append('&');
        }
        text.append(URLEncoder.encode(name, StandardCharsets.UTF_8)).append('=')
            .append(URLEncoder.encode(value, StandardCharsets.UTF_8));
      }
    });
    return text.toString();
  }

  /** {@code hex(sha256(kind, scope, value))}: no caller text reaches the store. */
  static String storeKey(String kind, String scope, String value) {
    MessageDigest digest = Hashing.sha256();
    Hashing.update(digest, kind);
    Hashing.update(digest, scope);
    Hashing.update(digest, value);
    return Hashing.hex(digest.digest());
  }

  private void bypass(HttpServletRequest request, HttpServletResponse response, FilterChain chain,
      String why) throws IOException, ServletException {
    bypassed(why);
    chain.doFilter(request, response);
  }

  private void bypassed(String why) {
    listener.outcome(Outcome.BYPASSED);
    log.debug("bypassed, not protected: {}", why);
  }

  /**
   * Reads and drops what is left of the body of a refused request, up to {@code limit} bytes.
   * Left unread, Jetty closes the connection after the answer without saying so, and the client's
   * next request on it fails; or, with the body still arriving, the close resets the connection
   * and the client loses the answer it was sent. A body over {@code limit}, or one the client
   * waits to be asked for, is not read: the answer says {@code Connection: close} instead.
   * {@code started}: the filter already read part of the body, so a client behind {@code
   * Expect: 100-continue} was asked for it and is sending the rest.
   */
  private void discardBody(HttpServletRequest request, HttpServletResponse response,
      long limit, boolean started) {
    long length = request.getContentLengthLong();
    if (length == 0) {
      return;
    }
    if (length > limit
        || (!started && "100-continue".equalsIgnoreCase(request.getHeader("Expect")))) {
      response.setHeader("Connection", "close");
      return;
    }
    try {
      InputStream in = request.getInputStream();
      byte[] buffer = new byte[8192];
      long left = limit;
      int n;
      while ((n = in.read(buffer)) != -1) {
        left -= n;
        if (left < 0) {
          response.setHeader("Connection", "close");
          return;
        }
      }
    } catch (IOException | IllegalStateException e) {
      response.setHeader("Connection", "close");
    }
  }

  /** Answers a problem; {@code key} is the store key when there is one, logged by its prefix. */
  private void reject(HttpServletResponse response, Outcome outcome, Problem problem,
      String detail, String key) throws IOException {
    listener.outcome(outcome);
    if (log.isDebugEnabled()) {
      log.debug("{} on key {}: {}", outcome.label(), key == null ? "-" : prefix(key), detail);
    }
    problem.send(response, detail, 0);
  }

  private void handle(BufferedBodyRequest request, HttpServletResponse response,
      FilterChain chain, String key, String requestHash, boolean keyed)
      throws IOException, ServletException {
    Duration retention = keyed ? config.retention() : config.fingerprintWindow();
    boolean wait = config.inFlight() == InFlightMode.WAIT;
    Instant deadline = wait ? clock.instant().plus(config.waitTimeout()) : null;
    Waiter[] waiter = {null};
    try {
      loop(request, response, chain, key, requestHash, keyed, retention, wait, deadline, waiter);
    } finally {
      // Leave no subscription behind for a key this JVM may never finish itself.
      if (waiter[0] != null) {
        stopWatching(key, waiter[0]);
      }
    }
  }

  private void loop(BufferedBodyRequest request, HttpServletResponse response, FilterChain chain,
      String key, String requestHash, boolean keyed, Duration retention, boolean wait,
      Instant deadline, Waiter[] waiter) throws IOException, ServletException {
    long pollMs = POLL_START_MS;
    while (true) {
      Acquisition acquisition;
      // Looked up before the store is asked: a run that finishes in between has stored its
      // response, so the store's answer is then that response, never an in-flight record whose
      // local run is already gone.
      Run local = wait ? null : localRuns.get(key);
      long startNanos = System.nanoTime();
      StoreException down = null;
      try {
        acquisition = store.acquire(key, requestHash, config.lockTimeout(), retention);
      } catch (StoreException e) {
        down = e;
        acquisition = null;
      }
      // The store call alone: fail-open runs the whole handler after it.
      listener.storeCall(store.name(), "acquire", System.nanoTime() - startNanos);
      if (down != null) {
        storeDown(request, response, chain, key, down);
        return;
      }
      if (acquisition instanceof Acquisition.Acquired acquired) {
        if (acquired.recovered()) {
          listener.staleRecovered();
          log.warn("took over the stale lock of key {} (its owner stopped renewing it)",
              prefix(key));
        }
        execute(request, response, chain, key, requestHash, acquired.token(), keyed);
        return;
      }
      if (acquisition instanceof Acquisition.Completed completed) {
        listener.outcome(Outcome.REPLAYED);
        if (log.isDebugEnabled()) {
          log.debug("replayed key {}", prefix(key));
        }
        replay(response, completed.response());
        return;
      }
      if (acquisition instanceof Acquisition.Mismatch) {
        reject(response, Outcome.MISMATCH, Problem.PAYLOAD_MISMATCH,
            "This " + config.header() + " was used with a different request.", key);
        return;
      }
      if (!wait && local != null && local.capture.bodyEnded()) {
        // The owner runs in this JVM and its client already has the whole response; only the
        // store write is left. A retry that raced it waits for that write instead of a 409.
        wait = true;
        deadline = clock.instant().plus(ENDED_RESPONSE_WAIT);
      }
      Duration left = wait ? Duration.between(clock.instant(), deadline) : Duration.ZERO;
      if (left.isNegative() || left.isZero()) {
        listener.outcome(Outcome.CONFLICT);
        log.debug("conflict on key {}", prefix(key));
        Problem.IN_FLIGHT.send(response,
            "A request with this " + (keyed ? config.header() : "content")
                + " is still being processed; retry later.", 1);
        return;
      }
      if (waiter[0] == null || waiter[0].wake().isDone()) {
        // Subscribe only once a wait is needed, then look again: a completion between the first
        // look and the subscription is not missed.
        if (waiter[0] != null) {
          stopWatching(key, waiter[0]);
        }
        waiter[0] = watch(key);
        continue;
      }
      long waitMs = Math.max(1, left.toMillis());
      if (acquisition instanceof Acquisition.InFlight inFlight) {
        // Nothing announces a dead owner's lock going stale: look again when it would, and take
        // the key over then rather than at the wait-timeout. A live owner's renewal answers
        // in flight again, with its new expiry.
        waitMs = Math.min(waitMs, Math.max(1, inFlight.lockExpiresIn().toMillis() + 1));
      }
      if (waiter[0].polling()) {
        waitMs = Math.min(waitMs, pollMs);
        pollMs = Math.min(POLL_MAX_MS, pollMs * 2);
      }
      waiter[0].await(waitMs);
    }
  }

  /**
   * Woken by this JVM's own completion of the key, or by the store's notification ({@code
   * remote}, null when the store has none).
   */
  private record Waiter(CompletableFuture<?> wake, LocalWaiters local,
      CompletableFuture<Void> remote, boolean polling) {

    void await(long millis) {
      try {
        wake.get(millis, TimeUnit.MILLISECONDS);
      } catch (TimeoutException | ExecutionException e) {
        // look again
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The waiters of one key in this JVM, woken together when this JVM finishes the key. */
  private static final class LocalWaiters {
    final CompletableFuture<Void> woken = new CompletableFuture<>();
    /** Changed only inside the map's {@code compute} for the key. */
    volatile int count;
  }

  private Waiter watch(String key) {
    LocalWaiters local = localWaiters.compute(key, (k, group) -> {
      LocalWaiters joined = group == null ? new LocalWaiters() : group;
      joined.count++;
      return joined;
    });
    CompletableFuture<Void> remote;
    try {
      remote = store.watch(key);
    } catch (StoreException e) {
      remote = null;
    }
    return remote == null
        ? new Waiter(local.woken, local, null, true)
        : new Waiter(CompletableFuture.anyOf(local.woken, remote), local, remote, false);
  }

  /**
   * Leaves the key's group of waiters, which is forgotten once its last waiter left: a key this
   * JVM may never finish itself keeps no entry. A store keeps each watch until its key is next
   * completed, released or purged, which may be never (an owner that died leaves a record that
   * expires by itself): cancelled, it forgets it.
   */
  private void stopWatching(String key, Waiter waiter) {
    localWaiters.computeIfPresent(key,
        (k, group) -> group == waiter.local() && --group.count == 0 ? null : group);
    if (waiter.remote() != null) {
      waiter.remote().cancel(false);
    }
  }

  /** How many requests of this JVM wait for a key to finish, for tests. */
  int localWaiters() {
    return localWaiters.values().stream().mapToInt(group -> group.count).sum();
  }

  private void renewDue() {
    long now = System.nanoTime();
    for (Run run : running) {
      if (now - run.renewAtNanos >= 0) {
        try {
          run.renew();
        } catch (RuntimeException e) {
          // One store's surprise must not end the sweep, and with it every run's renewals.
          log.warn("renewing key {} failed", prefix(run.key), e);
        }
      }
    }
  }

  private void wakeLocalWaiters(String key) {
    LocalWaiters waiters = localWaiters.remove(key);
    if (waiters != null) {
      waiters.woken.complete(null);
    }
  }

  private void storeDown(BufferedBodyRequest request, HttpServletResponse response,
      FilterChain chain, String key, StoreException e) throws IOException, ServletException {
    if (config.failMode() == FailMode.CLOSED) {
      listener.outcome(Outcome.FAIL_CLOSED);
      log.warn("store {} failed for key {}; answering 503 (fail-mode=closed): {}", e.store(),
          prefix(key), e.getMessage());
      Problem.STORE_UNAVAILABLE.send(response,
          "The idempotency store is unavailable; retry later.", FAIL_CLOSED_RETRY_AFTER_SECONDS);
      return;
    }
    listener.outcome(Outcome.FAIL_OPEN);
    log.warn("store {} failed for key {}; executing unprotected (fail-mode=open): {}",
        e.store(), prefix(key), e.getMessage());
    dispatch(chain, request, response);
  }

  private void execute(BufferedBodyRequest request, HttpServletResponse response,
      FilterChain chain, String key, String requestHash, long token, boolean keyed)
      throws IOException, ServletException {
    listener.outcome(Outcome.EXECUTED);
    log.debug("executing key {}", prefix(key));
    listener.inFlight(1);
    CapturingResponse capture =
        new CapturingResponse(response, config.maxResponseBytes(), config.replaySetCookie());
    request.asyncResponse(capture);
    Run run = new Run(key, requestHash, token, keyed, capture, clock.instant());
    localRuns.put(key, run);
    request.beforeAsyncEnd(() -> run.finish(false), capture::endsByDispatch);
    capture.holdEnd();
    boolean async = false;
    try {
      chain.doFilter(request, capture);
      if (request.isAsyncStarted()) {
        async = true;
        // the container may end an async response without us (dispatch, timeout): hold nothing
        capture.releaseHeld();
        request.getAsyncContext().addListener(run);
      }
    } catch (IOException | ServletException | RuntimeException | Error e) {
      run.finish(true);
      throw e;
    }
    if (!async) {
      run.finish(false);
    }
    request.dispatchReturned();
  }

  private static void dispatch(FilterChain chain, BufferedBodyRequest request,
      ServletResponse response) throws IOException, ServletException {
    chain.doFilter(request, response);
    request.dispatchReturned();
  }

  /** One execution under a lock: renews its lease, then completes or releases it once. */
  private final class Run implements AsyncListener {
    private final String key;
    private final String requestHash;
    private final long token;
    private final boolean keyed;
    private final CapturingResponse capture;
    /** System time, not the filter's clock: a test's fixed clock must not stop renewals. */
    private volatile long renewAtNanos;
    private volatile Instant lockExpires;
    private volatile boolean failed;
    /** Only the lease thread reads and writes it. */
    private boolean lapseLogged;
    private boolean finished;

    Run(String key, String requestHash, long token, boolean keyed, CapturingResponse capture,
        Instant started) {
      this.key = key;
      this.requestHash = requestHash;
      this.token = token;
      this.keyed = keyed;
      this.capture = capture;
      this.lockExpires = started.plus(config.lockTimeout());
      this.renewAtNanos = System.nanoTime() + renewalPeriodNanos();
      running.add(this);
      counted.add(this);
    }

    private long renewalPeriodNanos() {
      return config.lockTimeout().toNanos() / 3;
    }

    void renew() {
      long startNanos = System.nanoTime();
      renewAtNanos = startNanos + renewalPeriodNanos();
      Instant now = clock.instant();
      try {
        if (store.renew(key, token, config.lockTimeout())) {
          lockExpires = now.plus(config.lockTimeout());
        } else {
          // Not a loss if the run finished meanwhile: finish() leaves the set first.
          if (running.remove(this)) {
            log.warn("lost the lock of key {} while its request was running", prefix(key));
          }
        }
      } catch (StoreException e) {
        // Again at the next sweep, not a renewal period later: two periods could outlast the
        // lock and let a duplicate take a live owner's key over.
        renewAtNanos = startNanos;
        if (!lapseLogged && !now.isBefore(lockExpires)) {
          // Once per run: the owner runs on, but its key is no longer kept from a retry.
          lapseLogged = true;
          log.warn("the lock of key {} ran out while its request runs: no renewal got through "
              + "for a lock-timeout; a retry may take the key over and run it again: {}",
              prefix(key), e.getMessage());
        } else {
          log.debug("renewing key {} failed: {}", prefix(key), e.getMessage());
        }
      } finally {
        listener.storeCall(store.name(), "renew", System.nanoTime() - startNanos);
      }
    }

    synchronized void finish(boolean failedRun) {
      if (finished) {
        return;
      }
      finished = true;
      running.remove(this);
      if (counted.remove(this)) {
        listener.inFlight(-1);
      }
      try {
        int status = capture.getStatus();
        if (failedRun || failed || status >= 500 || capture.overflowed()
            || capture.incomplete()) {
          release();
          return;
        }
        // A keyless record lives one window past completion, not past arrival: a duplicate that
        // arrived inside the window but reached the store late (a loaded server) still matches.
        complete(capture.snapshot(), keyed ? config.retention() : config.fingerprintWindow());
      } finally {
        capture.releaseHeld();
        localRuns.remove(key, this);
        wakeLocalWaiters(key);
      }
    }

    private void complete(StoredResponse response, Duration retention) {
      long startNanos = System.nanoTime();
      try {
        if (!store.complete(key, token, response, retention)) {
          log.warn("could not store the response of key {}: the store no longer holds its "
              + "claim (taken over, purged, evicted, or refused)", prefix(key));
        }
      } catch (StoreException e) {
        log.warn("storing the response of key {} failed, retrying in the background: {}",
            prefix(key), e.getMessage());
        retry(() -> store.complete(key, token, response, retention) || completedEarlier(), 50,
            "complete");
      } finally {
        listener.storeCall(store.name(), "complete", System.nanoTime() - startNanos);
      }
    }

    private void release() {
      long startNanos = System.nanoTime();
      try {
        store.release(key, token);
      } catch (StoreException e) {
        log.warn("releasing key {} failed, retrying in the background: {}", prefix(key),
            e.getMessage());
        // Not held by this claim any more (the failed attempt applied, or the key was purged):
        // what a release is for.
        retry(() -> {
          store.release(key, token);
          return true;
        }, 50, "release");
      } finally {
        listener.storeCall(store.name(), "release", System.nanoTime() - startNanos);
      }
    }

    /**
     * Whether the key holds a completed record of this request: a {@code complete} that failed
     * (a timeout) can have applied, and its retry then finds no claim to complete. Until the lock
     * expires, which bounds the retries, nobody else can have taken the key over.
     */
    private boolean completedEarlier() {
      return store.inspect(key)
          .filter(info -> info.state() == RecordInfo.State.COMPLETED)
          .filter(info -> info.requestHash().equals(requestHash))
          .isPresent();
    }

    /** Retries with the same token until the lock would have expired anyway. */
    private void retry(java.util.function.BooleanSupplier op, long delayMs, String what) {
      if (scheduler.isShutdown()) {
        listener.completeRetried(false);
        log.warn("background {} of key {} dropped: the filter is shut down", what, prefix(key));
        return;
      }
      pendingRetries.incrementAndGet();
      scheduler.schedule(() -> {
        pendingRetries.decrementAndGet();
        try {
          boolean done = op.getAsBoolean();
          listener.completeRetried(done);
          if (!done) {
            log.warn("background {} of key {} lost: the key no longer holds this claim (taken "
                + "over, purged, or gone with the store's data)", what, prefix(key));
          } else {
            log.info("background {} of key {} succeeded", what, prefix(key));
          }
        } catch (StoreException e) {
          if (clock.instant().plusMillis(delayMs * 2).isBefore(lockExpires)) {
            retry(op, Math.min(2_000, delayMs * 2), what);
          } else {
            listener.completeRetried(false);
            log.error("gave up the background {} of key {}: the store stayed down until the "
                + "lock expired: {}", what, prefix(key), e.getMessage());
          }
        }
      }, delayMs, TimeUnit.MILLISECONDS);
    }

    @Override
    public void onComplete(AsyncEvent event) {
      finish(false);
    }

    @Override
    public void onError(AsyncEvent event) {
      failed = true;
    }

    /**
     * Not a failure by itself: an application may answer its own timeout (a 202, say) and
     * complete; if nobody does, the container answers 500, which is released like any 5xx.
     */
    @Override
    public void onTimeout(AsyncEvent event) {
      // the status decides
    }

    @Override
    public void onStartAsync(AsyncEvent event) {
      event.getAsyncContext().addListener(this);
    }
  }

  private void replay(HttpServletResponse response, StoredResponse stored) throws IOException {
    String sendError = null;
    String sendRedirect = null;
    for (Map.Entry<String, List<String>> header : stored.headers().entrySet()) {
      String name = header.getKey();
      List<String> values = header.getValue();
      if (name.equals(CapturingResponse.SEND_ERROR)) {
        sendError = values.get(0);
      } else if (name.equals(CapturingResponse.SEND_REDIRECT)) {
        sendRedirect = values.get(0);
      } else if (name.equalsIgnoreCase("Content-Type")) {
        response.setContentType(values.get(0));
      } else {
        // set, then add: a header the container put there itself (Server) is not doubled
        response.setHeader(name, values.get(0));
        for (int i = 1; i < values.size(); i++) {
          response.addHeader(name, values.get(i));
        }
      }
    }
    response.setHeader(REPLAYED_HEADER, "true");
    if (sendError != null) {
      response.sendError(stored.status(), sendError.isEmpty() ? null : sendError);
      return;
    }
    if (sendRedirect != null) {
      response.sendRedirect(sendRedirect);
      return;
    }
    response.setStatus(stored.status());
    response.setContentLength(stored.body().length);
    if (stored.body().length > 0) {
      response.getOutputStream().write(stored.body());
    }
  }

  private static String prefix(String key) {
    return key.length() > 12 ? key.substring(0, 12) : key;
  }

  /**
   * The most of a body over max-request-bytes read and dropped before its 413 (Tomcat's
   * {@code maxSwallowSize}): a client that sends its whole body before reading gets the answer.
   */
  static final long SWALLOW_BYTES = 2L * 1024 * 1024;

  /** The most fields a form may have: Jetty's and Tomcat's default. */
  static final int MAX_FORM_FIELDS = 1000;

  /** How many {@code &}-separated fields a form body has, empty ones included. */
  private static int formFields(byte[] body, int length) {
    int fields = length == 0 ? 0 : 1;
    for (int i = 0; i < length; i++) {
      if (body[i] == '&') {
        fields++;
      }
    }
    return fields;
  }

  /** A request body read up to a limit: {@code overflowed} if it went past it. */
  record Body(byte[] bytes, int length, boolean overflowed) {

    static Body read(InputStream in, long declaredLength, int max) throws IOException {
      int limit = max + 1;
      // A declared length sizes the buffer, up to 64 KiB: past that it grows as bytes arrive,
      // so a client that declares a megabyte and sends nothing holds no megabyte here.
      long initial = declaredLength >= 0 ? Math.min(Math.min(declaredLength + 1, limit), 65_536)
          : Math.min(8192, limit);
      byte[] buf = new byte[(int) Math.max(1, initial)];
      int count = 0;
      while (count < limit) {
        if (count == buf.length) {
          buf = java.util.Arrays.copyOf(buf, (int) Math.min(limit, buf.length * 2L));
        }
        int n = in.read(buf, count, buf.length - count);
        if (n < 0) {
          return new Body(buf, count, false);
        }
        count += n;
      }
      return new Body(buf, count, true);
    }
  }

  /**
   * Builds a filter in code. Values given here sit where init-params sit: system properties and
   * environment variables still override them (SPEC §9). Not thread-safe; the filter it builds
   * is.
   */
  public static final class Builder {
    private final IdempotencyStore store;
    private final Map<String, String> values = new HashMap<>();
    private Clock clock = Clock.systemUTC();
    private IdempotencyListener listener = IdempotencyListener.NONE;
    private Function<HttpServletRequest, String> scope;
    private Function<String, String> environment = System::getenv;
    private Function<String, String> systemProperties = System::getProperty;

    private Builder(IdempotencyStore store) {
      this.store = java.util.Objects.requireNonNull(store, "store");
    }

    /** Any setting by its init-param name (SPEC §9), e.g. {@code set("lock-timeout", "5s")}. */
    public Builder set(String name, String value) {
      if (!Settings.DEFAULTS.containsKey(name)) {
        throw new IllegalArgumentException("no setting named " + name + "; known: "
            + Settings.DEFAULTS.keySet());
      }
      if (name.equals("store") || name.startsWith("redis.") || name.startsWith("jdbc.")) {
        // Taken by the filter's init-params only: this builder was given its store.
        throw new IllegalArgumentException(name + " chooses a store; the builder was given one");
      }
      values.put(name, value);
      return this;
    }

    public Builder enabled(boolean enabled) {
      return set("enabled", Boolean.toString(enabled));
    }

    public Builder rolloutPercent(int percent) {
      return set("rollout.percent", Integer.toString(percent));
    }

    public Builder header(String header) {
      return set("header", header);
    }

    public Builder methods(String... methods) {
      return set("methods", String.join(",", methods));
    }

    public Builder includePaths(String... patterns) {
      return set("paths.include", String.join(",", patterns));
    }

    public Builder excludePaths(String... patterns) {
      return set("paths.exclude", String.join(",", patterns));
    }

    public Builder keyMode(KeyMode mode) {
      return set("key.mode", mode.name().replace('_', '-'));
    }

    public Builder keyFormat(KeyFormat format) {
      return set("key.format", format.name());
    }

    public Builder scopeHeader(String header) {
      return set("scope.header", header);
    }

    /**
     * The cookie whose value scopes a caller with no principal, {@code Authorization}, scope
     * extractor or scope header (e.g. {@code SESSION} for Spring Session); without it, the
     * container's session id ({@code JSESSIONID}).
     */
    public Builder scopeCookie(String cookie) {
      return set("scope.cookie", cookie);
    }

    /** The caller's scope when there is no principal and no {@code Authorization} header. */
    public Builder scope(Function<HttpServletRequest, String> extractor) {
      this.scope = extractor;
      return this;
    }

    public Builder lockTimeout(Duration timeout) {
      return set("lock-timeout", timeout.toString());
    }

    public Builder retention(Duration retention) {
      return set("retention", retention.toString());
    }

    public Builder fingerprintWindow(Duration window) {
      return set("fingerprint.window", window.toString());
    }

    public Builder ignoreFields(String... jsonPointers) {
      return set("fingerprint.ignore-fields", String.join(",", jsonPointers));
    }

    public Builder inFlight(InFlightMode mode) {
      return set("in-flight", mode.name());
    }

    public Builder waitTimeout(Duration timeout) {
      return set("wait-timeout", timeout.toString());
    }

    public Builder failMode(FailMode mode) {
      return set("fail-mode", mode.name());
    }

    public Builder maxRequestBytes(long bytes) {
      return set("max-request-bytes", Long.toString(bytes));
    }

    public Builder maxResponseBytes(long bytes) {
      return set("max-response-bytes", Long.toString(bytes));
    }

    public Builder replaySetCookie(boolean replay) {
      return set("replay.set-cookie", Boolean.toString(replay));
    }

    public Builder adminToken(String token) {
      return set("admin.token", token);
    }

    /** The clock for lock renewal, retries and the fingerprint window; the store keeps its own. */
    public Builder clock(Clock clock) {
      this.clock = java.util.Objects.requireNonNull(clock, "clock");
      return this;
    }

    public Builder listener(IdempotencyListener listener) {
      this.listener = java.util.Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** For tests: where environment variables and system properties are read from. */
    Builder environment(Function<String, String> environment,
        Function<String, String> systemProperties) {
      this.environment = environment;
      this.systemProperties = systemProperties;
      return this;
    }

    /** Validates the settings and builds the filter; a bad value fails here, naming it. */
    public IdempotencyFilter build() {
      return new IdempotencyFilter(this);
    }
  }
}
