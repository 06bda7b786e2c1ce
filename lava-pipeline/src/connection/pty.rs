//! A child process on a pseudo-terminal, as a serial console: what the
//! child writes is read from the master side, what we write is its input.
//!
//! Written here with `libc` (about 150 lines) rather than taken from a
//! crate: the crates that spawn on a pty either bring an async runtime or
//! a terminal emulator, and we need exactly four calls (`posix_openpt`,
//! `grantpt`, `unlockpt`, `ptsname_r`), raw mode, and a new session whose
//! controlling terminal is the pty. The child leads its own process group,
//! so [`Pty::kill`] ends it and everything it started.
//!
//! ```
//! use lava_pipeline::connection::Pty;
//!
//! let mut pty = Pty::spawn(&["sh".into(), "-c".into(), "echo ready".into()]).unwrap();
//! let mut seen = Vec::new();
//! let mut buf = [0u8; 256];
//! loop {
//!     lava_pipeline::unstable::wait_readable(pty.fd(), None, &lava_pipeline::CancelToken::new().unwrap()).unwrap();
//!     match pty.read(&mut buf).unwrap() {
//!         Some(0) => break,               // end of file
//!         Some(n) => seen.extend_from_slice(&buf[..n]),
//!         None => continue,               // nothing yet
//!     }
//! }
//! assert!(String::from_utf8_lossy(&seen).contains("ready"));
//! pty.kill();
//! ```

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// A child process whose standard streams are a pseudo-terminal.
#[derive(Debug)]
pub struct Pty {
    master: OwnedFd,
    child: Child,
    killed: bool,
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

impl Pty {
    /// Spawn `argv` (no shell) on a new pty in raw mode.
    pub fn spawn(argv: &[String]) -> io::Result<Pty> {
        let Some((program, args)) = argv.split_first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
        };
        // SAFETY: plain libc calls on descriptors we own; ptsname_r writes
        // a NUL-terminated name into the buffer we pass with its length.
        let (master, slave) = unsafe {
            let fd = cvt(libc::posix_openpt(
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            ))?;
            let master = OwnedFd::from_raw_fd(fd);
            cvt(libc::grantpt(fd))?;
            cvt(libc::unlockpt(fd))?;
            let mut name = [0 as libc::c_char; 128];
            let rc = libc::ptsname_r(fd, name.as_mut_ptr(), name.len());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            let path = CStr::from_ptr(name.as_ptr());
            let sfd = cvt(libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            ))?;
            let slave = OwnedFd::from_raw_fd(sfd);
            let mut term: libc::termios = std::mem::zeroed();
            cvt(libc::tcgetattr(sfd, &mut term))?;
            libc::cfmakeraw(&mut term);
            cvt(libc::tcsetattr(sfd, libc::TCSANOW, &term))?;
            let size = libc::winsize {
                ws_row: 24,
                ws_col: 80,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            cvt(libc::ioctl(sfd, libc::TIOCSWINSZ, &size))?;
            let flags = cvt(libc::fcntl(fd, libc::F_GETFL))?;
            cvt(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
            (master, slave)
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Pty {
            master,
            child,
            killed: false,
        })
    }

    /// The master side, for polling.
    pub fn fd(&self) -> RawFd {
        self.master.as_raw_fd()
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Read what is available: `Some(n)` bytes (`Some(0)`: end of file —
    /// the child and everything holding the terminal exited), `None` when
    /// nothing is there yet.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: reading into a valid buffer of the given length.
            let n = unsafe { libc::read(self.fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(Some(n as usize));
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return Ok(None),
                // Linux reports the closed slave side as EIO
                Some(libc::EIO) => return Ok(Some(0)),
                _ => return Err(err),
            }
        }
    }

    /// Write everything (waiting while the terminal's buffer is full).
    pub fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            // SAFETY: writing from a valid buffer of the given length.
            let n = unsafe { libc::write(self.fd(), data.as_ptr().cast(), data.len()) };
            if n >= 0 {
                data = &data[n as usize..];
                continue;
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => {
                    let mut pfd = libc::pollfd {
                        fd: self.fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut pfd, 1, 1000) };
                }
                _ => return Err(err),
            }
        }
        Ok(())
    }

    /// Whether the child has exited (it is reaped then).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Kill the child's process group with SIGKILL and reap the child.
    pub fn kill(&mut self) {
        if self.killed {
            return;
        }
        self.killed = true;
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling the process group the child leads (setsid).
        if unsafe { libc::kill(-pid, libc::SIGKILL) } != 0 {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.kill();
    }
}
