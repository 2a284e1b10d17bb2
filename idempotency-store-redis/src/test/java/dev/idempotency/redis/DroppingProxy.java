package dev.idempotency.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A loopback TCP proxy in front of Redis that can drop a connection the moment Redis answers: the
 * command ran, its reply is lost with the connection (a network blip, a load balancer reset); or
 * be {@linkplain #cut() cut} (a partition: every connection reset, new ones too, until
 * {@linkplain #restore() restored}).
 */
public final class DroppingProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int target;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  /** Set: the next reply Redis sends on any connection is dropped together with it. */
  final AtomicBoolean dropNextReply = new AtomicBoolean();
  private volatile boolean cut;

  public DroppingProxy(int target) throws IOException {
    this.target = target;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::accept, "proxy-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  public String uri() {
    return "redis://127.0.0.1:" + server.getLocalPort();
  }

  /** Resets every connection, and each new one as it arrives, until {@link #restore()}. */
  public void cut() {
    cut = true;
    for (Socket s : sockets) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closed
      }
    }
    sockets.clear();
  }

  /** New connections reach Redis again. */
  public void restore() {
    cut = false;
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        if (cut) {
          client.close();
          continue;
        }
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
        sockets.add(client);
        sockets.add(upstream);
        pump(client, upstream, false);
        pump(upstream, client, true);
      } catch (IOException e) {
        return;
      }
    }
  }

  private void pump(Socket from, Socket to, boolean replies) {
    Thread t = new Thread(() -> {
      byte[] buffer = new byte[65536];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buffer)) > 0) {
          if (replies && dropNextReply.compareAndSet(true, false)) {
            from.close();
            to.close();
            return;
          }
          out.write(buffer, 0, n);
          out.flush();
        }
      } catch (IOException e) {
        // closed
      } finally {
        try {
          from.close();
          to.close();
        } catch (IOException ignored) {
          // closed
        }
      }
    }, "proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  @Override
  public void close() throws IOException {
    cut = true;
    server.close();
    for (Socket s : sockets) {
      s.close();
    }
  }
}
