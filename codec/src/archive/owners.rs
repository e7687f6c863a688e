//! User and group names for tar headers, as Go's pure-Go `os/user` finds them: the
//! first `/etc/passwd` (`/etc/group`) line whose third field is the id; empty when
//! there is none. Looked up once per id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Cached id → name lookups.
#[derive(Debug)]
pub struct Owners {
    passwd: PathBuf,
    group: PathBuf,
    users: HashMap<u64, String>,
    groups: HashMap<u64, String>,
}

impl Default for Owners {
    fn default() -> Self {
        Owners::with_files(Path::new("/etc/passwd"), Path::new("/etc/group"))
    }
}

impl Owners {
    /// Lookups in other files (tests).
    pub fn with_files(passwd: &Path, group: &Path) -> Self {
        Owners {
            passwd: passwd.to_path_buf(),
            group: group.to_path_buf(),
            users: HashMap::new(),
            groups: HashMap::new(),
        }
    }

    /// The user name of `uid`.
    pub fn user(&mut self, uid: u64) -> &str {
        let file = &self.passwd;
        self.users.entry(uid).or_insert_with(|| lookup(file, uid))
    }

    /// The group name of `gid`.
    pub fn group(&mut self, gid: u64) -> &str {
        let file = &self.group;
        self.groups.entry(gid).or_insert_with(|| lookup(file, gid))
    }
}

/// `name:x:id:…` lines; comments and malformed lines skipped.
fn lookup(file: &Path, id: u64) -> String {
    let Ok(text) = std::fs::read(file) else {
        return String::new();
    };
    find_name(&text, id).unwrap_or_default()
}

/// The name on the first line whose third field is `id` (also the fuzz target).
pub fn find_name(text: &[u8], id: u64) -> Option<String> {
    let wanted = id.to_string();
    text.split(|&b| b == b'\n')
        .filter(|line| !line.starts_with(b"#"))
        .find_map(|line| {
            let mut fields = line.split(|&b| b == b':');
            let name = fields.next()?;
            let _password = fields.next()?;
            let field_id = fields.next()?;
            (field_id == wanted.as_bytes() && !name.is_empty())
                .then(|| String::from_utf8_lossy(name).into_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::find_name;

    #[test]
    fn first_match() {
        let passwd = b"# c\nroot:x:0:0:root:/root:/bin/sh\nbin:x:1:1::/:/x\nalt:x:0:0\n";
        assert_eq!(find_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(find_name(passwd, 1).as_deref(), Some("bin"));
        assert_eq!(find_name(passwd, 4242), None);
    }
}
