//! The examples of contract v1 (`schemas/v1/examples/{valid,invalid}`), read
//! for tests: this crate's and, through the feature `examples`, other crates'
//! (transform's curate tests). The only file reading of this crate, and only
//! in tests.

use serde_json::Value;
use std::path::PathBuf;

/// Every example file of `kind` (`valid` or `invalid`), as `(path, its
/// JSON)`, ordered by path; an error when the folder is empty.
pub fn examples(kind: &str) -> std::io::Result<Vec<(String, Value)>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/v1/examples")
        .join(kind);
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let example: Value =
            serde_json::from_str(&std::fs::read_to_string(&path)?).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
        all.push((path.display().to_string(), example));
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    if all.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no examples in {}", dir.display()),
        ));
    }
    Ok(all)
}
