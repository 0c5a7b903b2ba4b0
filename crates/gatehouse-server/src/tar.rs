//! Writes the files of a folder as an uncompressed POSIX tar archive (ustar), so that an
//! evidence bundle downloads as one file that `tar xf` unpacks anywhere.

use std::io::Write;
use std::path::Path;

fn header(name: &str, size: u64, dir: bool) -> std::io::Result<[u8; 512]> {
    let mut h = [0u8; 512];
    if name.len() > 100 {
        return Err(std::io::Error::other(format!(
            "`{name}` is too long a name for the archive"
        )));
    }
    h[..name.len()].copy_from_slice(name.as_bytes());
    let mode = if dir { b"0000755\0" } else { b"0000644\0" };
    h[100..108].copy_from_slice(mode);
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[148..156].copy_from_slice(b"        ");
    h[156] = if dir { b'5' } else { b'0' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// The tar archive of every file under `dir`, their names starting with `prefix/`.
pub fn archive(dir: &Path, prefix: &str) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    out.write_all(&header(&format!("{prefix}/"), 0, true)?)?;
    let mut stack = vec![(dir.to_path_buf(), prefix.to_owned())];
    while let Some((path, name)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&path)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let child = format!("{name}/{}", e.file_name().to_string_lossy());
            if e.file_type()?.is_dir() {
                out.write_all(&header(&format!("{child}/"), 0, true)?)?;
                stack.push((e.path(), child));
            } else {
                let data = std::fs::read(e.path())?;
                out.write_all(&header(&child, data.len() as u64, false)?)?;
                out.write_all(&data)?;
                let pad = (512 - data.len() % 512) % 512;
                out.write_all(&vec![0u8; pad])?;
            }
        }
    }
    out.write_all(&[0u8; 1024])?;
    Ok(out)
}
