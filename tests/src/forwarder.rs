//! A TCP forwarder a test puts between a client and a server (the store's DynamoDB client and
//! DynamoDB Local) to make the server unreachable and bring it back, without touching either
//! side: the client keeps its endpoint, its connection pool and its retry state, as a Lambda
//! instance does while DynamoDB is out of its reach.
//!
//! - [`Link::Up`]: bytes flow both ways.
//! - [`Link::Refused`]: the listening socket is closed, so new connections are refused
//!   (`ECONNREFUSED`), and every open connection is reset.
//! - [`Link::Silent`]: connections are accepted, and open ones kept, but nothing is forwarded
//!   either way: the server seems to hang, and only the client's timeouts end a request.
//!
//! [`Forwarder::redirect`] points it at another upstream, e.g. a DynamoDB Local restarted on a
//! new port, while clients keep the forwarder's address.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the forwarder does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Up,
    Refused,
    Silent,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    cut: AtomicU64,
}

pub struct Forwarder {
    addr: SocketAddr,
    link: watch::Sender<Link>,
    upstream: Arc<Mutex<SocketAddr>>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl Forwarder {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let (link, _) = watch::channel(Link::Up);
        let upstream = Arc::new(Mutex::new(upstream));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(serve(
            listener,
            addr,
            link.subscribe(),
            Arc::clone(&upstream),
            Arc::clone(&counters),
        ));
        Ok(Self {
            addr,
            link,
            upstream,
            counters,
            task,
        })
    }

    /// Forwards to the upstream an `http://host:port` endpoint names.
    pub async fn to_endpoint(endpoint: &str) -> std::io::Result<Self> {
        Self::start(endpoint_addr(endpoint)?).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`: the endpoint to give the client instead of the server's.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }

    pub fn link(&self) -> Link {
        *self.link.borrow()
    }

    /// New connections go to `endpoint` from now on.
    pub fn redirect(&self, endpoint: &str) -> std::io::Result<()> {
        let addr = endpoint_addr(endpoint)?;
        *self.upstream.lock().unwrap_or_else(|p| p.into_inner()) = addr;
        Ok(())
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.counters.accepted.load(Ordering::SeqCst)
    }

    /// Open connections reset or abandoned because the link went down.
    pub fn cut(&self) -> u64 {
        self.counters.cut.load(Ordering::SeqCst)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
        // Wakes every connection task, which then closes its sockets.
        self.link.send_replace(Link::Refused);
    }
}

fn endpoint_addr(endpoint: &str) -> std::io::Result<SocketAddr> {
    endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| std::io::Error::other(format!("{endpoint}: {e}")))
}

/// Accepts while the link is not refused; closes the listening socket while it is, and binds
/// the same address again when it comes back.
async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    mut link: watch::Receiver<Link>,
    upstream: Arc<Mutex<SocketAddr>>,
    counters: Arc<Counters>,
) {
    let mut listener = Some(listener);
    loop {
        let current = *link.borrow_and_update();
        match (current, listener.take()) {
            (Link::Refused, held) => {
                drop(held);
                if link.changed().await.is_err() {
                    return;
                }
            }
            (_, None) => {
                // The port was ours a moment ago; SO_REUSEADDR (set by tokio) lets it be bound
                // again at once. Retry briefly in case the kernel is slow to release it.
                for _ in 0..100 {
                    if let Ok(bound) = TcpListener::bind(addr).await {
                        listener = Some(bound);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if listener.is_none() {
                    eprintln!("the forwarder could not listen on {addr} again");
                    return;
                }
            }
            (_, Some(open)) => {
                tokio::select! {
                    changed = link.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        listener = Some(open);
                    }
                    accepted = open.accept() => {
                        listener = Some(open);
                        if let Ok((client, _)) = accepted {
                            counters.accepted.fetch_add(1, Ordering::SeqCst);
                            let target = *upstream.lock().unwrap_or_else(|p| p.into_inner());
                            tokio::spawn(connection(client, target, link.clone(), Arc::clone(&counters)));
                        }
                    }
                }
            }
        }
    }
}

/// One client connection: forwarded while the link is up, frozen while it is silent, reset
/// when it is refused.
async fn connection(
    mut client: TcpStream,
    target: SocketAddr,
    mut link: watch::Receiver<Link>,
    counters: Arc<Counters>,
) {
    // Accepted while silent: hold it, say nothing, until the link changes.
    while *link.borrow_and_update() == Link::Silent {
        if link.changed().await.is_err() {
            return;
        }
    }
    if *link.borrow() == Link::Refused {
        reset(client);
        return;
    }
    // An upstream that is gone (a stopped DynamoDB Local) looks like a dropped connection.
    let Ok(mut server) = TcpStream::connect(target).await else {
        reset(client);
        return;
    };
    let _ = server.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let outcome = {
        let forwarding = tokio::io::copy_bidirectional(&mut client, &mut server);
        tokio::pin!(forwarding);
        loop {
            tokio::select! {
                _ = &mut forwarding => break None,
                changed = link.changed() => {
                    if changed.is_err() {
                        break Some(Link::Refused);
                    }
                    let now = *link.borrow_and_update();
                    if now != Link::Up {
                        break Some(now);
                    }
                }
            }
        }
    };
    match outcome {
        None => {
            let _ = client.shutdown().await;
        }
        Some(Link::Silent) => {
            counters.cut.fetch_add(1, Ordering::SeqCst);
            // Keep both sockets open and quiet until the link changes, then drop them: the
            // client has given up on this connection by then.
            let _ = link.changed().await;
            reset(client);
        }
        Some(_) => {
            counters.cut.fetch_add(1, Ordering::SeqCst);
            reset(client);
        }
    }
}

/// Closes with a reset, as a host that lost the connection's state would.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}
