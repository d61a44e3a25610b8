//! `probe [PATH]`: exits 0 when `http://127.0.0.1:$PORT/PATH` (default `/health/ready`) answers
//! 200 within two seconds, 1 otherwise. The container image has no shell or curl, so compose
//! healthchecks run this.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/health/ready".to_owned());
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let ok = (|| -> std::io::Result<bool> {
        let timeout = Some(Duration::from_secs(2));
        let mut stream = TcpStream::connect(format!("127.0.0.1:{port}"))?;
        stream.set_read_timeout(timeout)?;
        stream.set_write_timeout(timeout)?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.") && &head[9..12] == b"200")
    })()
    .unwrap_or(false);
    std::process::exit(if ok { 0 } else { 1 });
}
