//! Atomic file writes: a report is either the old file or the whole new one,
//! never half-written (a temp file in the same folder, then a rename).

use std::io::Write;
use std::path::Path;

use crate::errors::Error;

pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
) -> Result<(), Error> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    {
        let mut buffered = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        write(&mut buffered).map_err(|e| Error::io(path, e))?;
        buffered.flush().map_err(|e| Error::io(path, e))?;
    }
    // Reports are shared artifacts: readable by all, like a plain write would make them.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(|e| Error::io(path, e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Writes `header`, then `items` rendered by `render` on every core, a block
/// at a time and in order: memory holds a few blocks of output, never the
/// file (a million results are hundreds of megabytes of JSON or CSV). One
/// thread writes a block while the pool renders the next.
pub fn write_rendered<T: Sync>(
    path: &Path,
    header: &[u8],
    items: &[T],
    render: impl Fn(&[T], &mut Vec<u8>) -> std::io::Result<()> + Sync,
) -> Result<(), Error> {
    use rayon::prelude::*;
    write_atomic(path, |w| {
        w.write_all(header)?;
        let (blocks, rendered) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> std::io::Result<()> {
                for parts in rendered {
                    for part in parts {
                        w.write_all(&part)?;
                    }
                }
                Ok(())
            });
            let render_all = || -> std::io::Result<()> {
                for block in items.chunks(64 * 1024) {
                    let parts: std::io::Result<Vec<Vec<u8>>> = block
                        .par_chunks(2048)
                        .map(|chunk| {
                            let mut buf = Vec::with_capacity(chunk.len() * 256);
                            render(chunk, &mut buf).map(|()| buf)
                        })
                        .collect();
                    // A closed channel means the writer failed; its error is reported below.
                    if blocks.send(parts?).is_err() {
                        break;
                    }
                }
                Ok(())
            };
            let rendered = render_all();
            drop(blocks); // ends the writer's loop, whatever happened
            writer.join().expect("writer thread does not panic")?;
            rendered
        })
    })
}

pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic(path, |w| w.write_all(bytes))
}
