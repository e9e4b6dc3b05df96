//! `--quiet`: output is held back in an unlinked temp file (not RAM), as records of
//! (stream, length, bytes), and replayed to the right streams only if the run fails.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

use super::Stream;

pub struct Spool {
    file: File,
}

impl Spool {
    pub fn create() -> io::Result<Spool> {
        Ok(Spool {
            file: tempfile::tempfile()?,
        })
    }

    pub fn record(&mut self, stream: Stream, chunk: &[u8]) -> io::Result<()> {
        let mut header = [0u8; 5];
        header[0] = stream as u8;
        header[1..].copy_from_slice(&(chunk.len() as u32).to_le_bytes());
        let start = self.file.stream_position()?;
        let written = self
            .file
            .write_all(&header)
            .and_then(|_| self.file.write_all(chunk));
        if written.is_err() {
            // Keep the spool readable: drop the half-written record.
            let _ = self.file.set_len(start);
            let _ = self.file.seek(SeekFrom::Start(start));
        }
        written
    }

    /// Writes everything held back to cronbeat's own stdout and stderr, and empties the spool.
    pub fn replay(&mut self) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        let mut reader = BufReader::with_capacity(64 * 1024, &self.file);
        let mut header = [0u8; 5];
        let mut chunk = Vec::new();
        loop {
            match reader.read_exact(&mut header) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
            let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
            chunk.resize(len, 0);
            reader.read_exact(&mut chunk)?;
            let stream = if header[0] == Stream::Stderr as u8 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            let _ = super::write_all_fd(stream.fd(), &chunk);
        }
        drop(reader);
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        Ok(())
    }
}
