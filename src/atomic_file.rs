//! Atomic file writes: a report is either the old file or the whole new one,
//! never half-written (a temp file in the same folder, then a rename).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::errors::Error;

/// Callers hand over whole buffers, so the file is written unbuffered: a
/// `BufWriter` would only copy each block once more.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<(), Error> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    write(tmp.as_file_mut()).map_err(|e| Error::io(path, e))?;
    // Reports are shared artifacts: readable by all, like a plain write would make them.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(|e| Error::io(path, e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Items rendered into one buffer: big enough that a write is one large
/// syscall, small enough that a block splits over every core.
const ITEMS_PER_PART: usize = 2048;
/// Items per block; the writer holds at most about three blocks of output
/// (one rendering, one queued, one being written), per file written at
/// once. 64k lines of long variant texts made that ~300 MB, the top of a
/// transform run's peak memory; 16k keeps every core busy all the same.
const ITEMS_PER_BLOCK: usize = 16 * 1024;

/// Writes `header`, then `items` rendered by `render` on every core, a block
/// at a time and in order: memory holds a few blocks of output, never the
/// file (a million results are hundreds of megabytes of JSON or CSV). One
/// thread writes a block while the pool renders the next, and hands the
/// emptied buffers back for reuse, so rendering neither reallocates nor
/// faults in fresh pages for every block.
pub fn write_rendered<T: Sync>(
    path: &Path,
    header: &[u8],
    items: &[T],
    render: impl Fn(&[T], &mut Vec<u8>) -> std::io::Result<()> + Sync,
) -> Result<(), Error> {
    use rayon::prelude::*;
    // Bytes per item seen so far (largest part), to size new buffers.
    let bytes_per_item = AtomicUsize::new(256);
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    write_atomic(path, |file| {
        file.write_all(header)?;
        let (blocks, rendered) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
        std::thread::scope(|scope| {
            let spare = &spare;
            let writer = scope.spawn(move || -> std::io::Result<()> {
                for parts in rendered {
                    for mut part in parts {
                        file.write_all(&part)?;
                        part.clear();
                        spare.lock().expect("spare buffers").push(part);
                    }
                }
                Ok(())
            });
            let render_part = |chunk: &[T]| -> std::io::Result<Vec<u8>> {
                let wanted = chunk.len() * bytes_per_item.load(Ordering::Relaxed) * 9 / 8;
                let mut buf = spare.lock().expect("spare buffers").pop().unwrap_or_default();
                buf.reserve(wanted);
                render(chunk, &mut buf)?;
                bytes_per_item.fetch_max(buf.len().div_ceil(chunk.len().max(1)), Ordering::Relaxed);
                Ok(buf)
            };
            let render_all = || -> std::io::Result<()> {
                for block in items.chunks(ITEMS_PER_BLOCK) {
                    let parts: std::io::Result<Vec<Vec<u8>>> =
                        block.par_chunks(ITEMS_PER_PART).map(render_part).collect();
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
    write_atomic(path, |file| file.write_all(bytes))
}

/// Whether `dir` could be created and written, without creating it or
/// leaving anything behind (`gauntlet check` writes nothing): the folder
/// itself when it exists, else its nearest existing ancestor.
pub fn could_write(dir: &Path) -> std::io::Result<()> {
    let existing = dir.ancestors().find(|a| a.as_os_str().is_empty() || a.exists()).unwrap_or(Path::new("."));
    let existing = if existing.as_os_str().is_empty() { Path::new(".") } else { existing };
    if !existing.is_dir() {
        return Err(std::io::Error::other(format!("{} is not a folder", existing.display())));
    }
    tempfile::tempdir_in(existing).map(drop)
}

/// Whether files can be written into `dir` (created if missing): checked
/// before a replay, so an unwritable reports folder costs no target time.
pub fn check_writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    tempfile::NamedTempFile::new_in(dir).map(drop)
}
