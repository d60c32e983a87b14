//! Is this the file we asked for? The whole file's SHA-256 against the index's hash, or,
//! when the source publishes no hash, the wheel's own RECORD (every member's hash and size):
//! "integrity checked, origin not verified".

use std::io::Read;
use std::path::Path;

use base64::Engine;
use sha2::{Digest, Sha256};

/// SHA-256 of everything `reader` yields, read in 1 MiB blocks, with the byte count: the one
/// streaming hasher (whole wheels, zip members, restored files).
pub(crate) fn sha256_reader(mut reader: impl Read) -> std::io::Result<([u8; 32], u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hasher.finalize().into(), size))
}

/// Lowercase hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let (digest, size) = sha256_reader(std::fs::File::open(path)?)?;
    Ok((hex(&digest), size))
}

/// A digest in RECORD's notation: urlsafe base64 without padding (after `sha256=`).
pub(crate) fn record_base64(digest: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) use crate::compat::available::is_sha256_hex;

/// Check a wheel against its `*.dist-info/RECORD`: every member listed with a matching
/// `sha256=` hash and size, nothing unlisted (RECORD and its signatures excepted), no member
/// escaping the install directory. Err is a short reason.
pub fn check_wheel_record(path: &Path) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| format!("not a zip file: {e}"))?;
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    for n in &names {
        if n.starts_with('/') || n.starts_with('\\') || n.split(['/', '\\']).any(|c| c == "..") || n.contains(':') {
            return Err(format!("unsafe member path `{n}`"));
        }
    }
    let records: Vec<&String> =
        names.iter().filter(|n| n.ends_with(".dist-info/RECORD") && n.matches('/').count() == 1).collect();
    let record_name = match records.as_slice() {
        [one] => (*one).clone(),
        [] => return Err("no .dist-info/RECORD".into()),
        _ => return Err("several .dist-info/RECORD files".into()),
    };
    let dist_info = record_name.trim_end_matches("RECORD").to_string();
    let mut text = String::new();
    zip.by_name(&record_name)
        .map_err(|e| format!("cannot read RECORD: {e}"))?
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read RECORD: {e}"))?;
    let mut listed = std::collections::HashMap::new();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    for row in reader.records() {
        let row = row.map_err(|e| format!("RECORD is not CSV: {e}"))?;
        let name = row.get(0).unwrap_or("").to_string();
        if name.is_empty() {
            continue;
        }
        listed.insert(name, (row.get(1).unwrap_or("").to_string(), row.get(2).unwrap_or("").to_string()));
    }
    let unhashed_ok =
        |n: &str| n == record_name || n == format!("{dist_info}RECORD.jws") || n == format!("{dist_info}RECORD.p7s");
    for name in &names {
        if name.ends_with('/') {
            continue; // directory entry
        }
        let Some((hash, size)) = listed.get(name) else {
            if unhashed_ok(name) {
                continue;
            }
            return Err(format!("`{name}` is not listed in RECORD"));
        };
        if hash.is_empty() {
            if unhashed_ok(name) {
                continue;
            }
            return Err(format!("`{name}` has no hash in RECORD"));
        }
        let Some(want) = hash.strip_prefix("sha256=") else {
            return Err(format!("`{name}`: unsupported hash `{hash}` in RECORD"));
        };
        let member = zip.by_name(name).map_err(|e| format!("cannot read `{name}`: {e}"))?;
        let (digest, n_bytes) = sha256_reader(member).map_err(|e| format!("cannot read `{name}`: {e}"))?;
        let got = record_base64(&digest);
        if got != want.trim_end_matches('=') {
            return Err(format!("`{name}` does not match its RECORD hash"));
        }
        if !size.is_empty() && size.parse::<u64>().ok() != Some(n_bytes) {
            return Err(format!("`{name}` does not match its RECORD size"));
        }
    }
    for name in listed.keys() {
        if !names.contains(name) {
            return Err(format!("`{name}` is listed in RECORD but missing"));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A small wheel with a correct RECORD; `tamper` changes one member after hashing.
    pub(crate) fn make_wheel(path: &Path, tamper: bool) {
        let members: [(&str, &[u8]); 3] = [
            ("demo/__init__.py", b"print('hi')\n"),
            ("demo/data.bin", &[7u8; 5000]),
            ("demo-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),
        ];
        let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let opts = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let mut record = String::new();
        for (name, data) in members {
            let h = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data));
            record.push_str(&format!("{name},sha256={h},{}\n", data.len()));
            w.start_file(name, opts).unwrap();
            if tamper && name.ends_with(".py") {
                w.write_all(b"print('pwned')\n").unwrap();
            } else {
                w.write_all(data).unwrap();
            }
        }
        record.push_str("demo-1.0.dist-info/RECORD,,\n");
        w.start_file("demo-1.0.dist-info/RECORD", opts).unwrap();
        w.write_all(record.as_bytes()).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn record_check() {
        let tmp = tempfile::tempdir().unwrap();
        let good = tmp.path().join("demo-1.0-py3-none-any.whl");
        make_wheel(&good, false);
        assert_eq!(check_wheel_record(&good), Ok(()));
        let bad = tmp.path().join("bad.whl");
        make_wheel(&bad, true);
        assert!(check_wheel_record(&bad).unwrap_err().contains("demo/__init__.py"));
        let junk = tmp.path().join("junk.whl");
        std::fs::write(&junk, b"not a zip").unwrap();
        assert!(check_wheel_record(&junk).unwrap_err().contains("not a zip"));
    }

    #[test]
    fn file_hash() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let (h, n) = sha256_file(&p).unwrap();
        assert_eq!(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(n, 3);
        assert!(is_sha256_hex(&h));
        assert!(!is_sha256_hex("abc"));
    }
}
