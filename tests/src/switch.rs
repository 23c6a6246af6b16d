//! A switchable loopback TCP proxy in front of an emulator, so a test can take DynamoDB Local or
//! moto away and bring it back without disturbing the other tests that share the emulator. Down
//! is what a stopped server looks like to a client: the listening socket is closed (new
//! connections are refused) and every open connection is cut. Stalled accepts connections and
//! never forwards a byte, like a server that hangs.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forwards to the emulator.
    Up,
    /// Refuses connections; cuts open ones.
    Down,
    /// Accepts connections and never answers.
    Stalled,
}

/// The proxy's switch. Dropping it stops the proxy.
pub struct Switch {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
}

impl Switch {
    /// A proxy on a free loopback port in front of `upstream` (`http://host:port`), up.
    pub async fn start(upstream: &str) -> Switch {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (mode, watcher) = watch::channel(Mode::Up);
        tokio::spawn(serve(Some(listener), addr, upstream, watcher));
        Switch { addr, mode }
    }

    /// The endpoint clients should use.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the mode; returns once the change took effect.
    pub async fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
        if mode == Mode::Up {
            // Until the port is listening again, a client would see it still down.
            for _ in 0..100 {
                if TcpStream::connect(self.addr).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("the proxy did not come back up on {}", self.addr);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn serve(mut listener: Option<TcpListener>, addr: SocketAddr, upstream: String, mut mode: watch::Receiver<Mode>) {
    loop {
        let now = *mode.borrow_and_update();
        if now == Mode::Down {
            // Closing the socket is what makes new connections refused.
            listener = None;
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        let bound = match listener.take() {
            Some(l) => l,
            None => match TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        tokio::select! {
            accepted = bound.accept() => {
                if let Ok((client, _)) = accepted {
                    tokio::spawn(connection(client, upstream.clone(), mode.clone()));
                }
                listener = Some(bound);
            }
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                listener = Some(bound);
            }
        }
    }
}

async fn connection(mut client: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
    let at_accept = *mode.borrow_and_update();
    if at_accept == Mode::Stalled {
        // Hold the connection open, silent, until the mode changes; then cut it.
        let _ = mode.changed().await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        // Any change of mode cuts the connections made under the old one.
        _ = mode.changed() => {}
    }
}
