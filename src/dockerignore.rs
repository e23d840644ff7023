//! `.dockerignore`: which files of a build context are left out, with the
//! Docker CLI's rules: patterns relative to the context root (a leading `/`
//! changes nothing), `*` and `?` within one path component, `**` across any
//! number of them, `[...]` classes, `\` escapes, `!` re-including what an
//! earlier pattern left out, and the last matching pattern deciding. A
//! pattern matching a folder matches everything under it.

use regex::Regex;

/// The parsed patterns of one `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ignore {
    rules: Vec<Rule>,
    has_exceptions: bool,
}

#[derive(Debug, Clone)]
struct Rule {
    regex: Regex,
    exclude: bool,
}

impl Ignore {
    /// Parses the text of a `.dockerignore`; the error names the bad line.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclude, pattern) = match line.strip_prefix('!') {
                Some(rest) => (false, rest.trim()),
                None => (true, line),
            };
            let cleaned = clean(pattern);
            if cleaned.is_empty() {
                continue;
            }
            let regex = Regex::new(&to_regex(&cleaned))
                .map_err(|e| format!("line {}: bad pattern `{line}`: {e}", n + 1))?;
            rules.push(Rule { regex, exclude });
        }
        let has_exceptions = rules.iter().any(|r| !r.exclude);
        Ok(Ignore {
            rules,
            has_exceptions,
        })
    }

    /// Whether the file or folder at `path` (relative, `/`-separated) is left out.
    pub(crate) fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if rule.exclude != excluded && rule.matches(path) {
                excluded = rule.exclude;
            }
        }
        excluded
    }

    /// Whether a folder can be skipped without looking inside: it is left
    /// out and no `!` pattern could bring back anything under it.
    pub(crate) fn skips_dir(&self, path: &str) -> bool {
        !self.has_exceptions && self.excludes(path)
    }
}

impl Rule {
    /// The pattern matches the path itself or one of its parent folders.
    fn matches(&self, path: &str) -> bool {
        path.match_indices('/')
            .any(|(i, _)| self.regex.is_match(&path[..i]))
            || self.regex.is_match(path)
    }
}

/// Like Go's `filepath.Clean` on a relative pattern: no leading `/`, no `.`
/// or empty components, `..` resolved.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn to_regex(pattern: &str) -> String {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    // `**/` also matches no folder at all.
                    i += 1;
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' if i + 1 < chars.len() => {
                i += 1;
                re.push_str(&regex::escape(&chars[i].to_string()));
            }
            '[' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|&c| c == ']')
                    .map(|p| p + i + 1);
                match close {
                    Some(end) => {
                        re.push('[');
                        let mut j = i + 1;
                        if matches!(chars.get(j), Some('!') | Some('^')) {
                            re.push('^');
                            j += 1;
                        }
                        for &c in &chars[j..end] {
                            if c == '[' || c == '\\' {
                                re.push('\\');
                            }
                            re.push(c);
                        }
                        re.push(']');
                        i = end;
                    }
                    None => re.push_str("\\["),
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    re.push('$');
    re
}

#[cfg(test)]
mod tests {
    use super::Ignore;

    fn ig(text: &str) -> Ignore {
        Ignore::parse(text).unwrap()
    }

    #[test]
    fn plain_names_and_folders() {
        let i = ig("# comment\n\ntarget\n/secret.txt\n");
        assert!(i.excludes("target"));
        assert!(i.excludes("target/debug/app"));
        assert!(i.excludes("secret.txt"));
        assert!(!i.excludes("src/secret.txt"));
        assert!(!i.excludes("targets"));
    }

    #[test]
    fn stars_stay_within_a_component() {
        let i = ig("*.log\ndocs/*.md\nfile?.txt");
        assert!(i.excludes("a.log"));
        assert!(!i.excludes("sub/a.log"));
        assert!(i.excludes("docs/x.md"));
        assert!(!i.excludes("docs/sub/x.md"));
        assert!(i.excludes("file1.txt"));
        assert!(!i.excludes("file10.txt"));
    }

    #[test]
    fn double_star_spans_folders() {
        let i = ig("**/*.tmp\nbuild/**/cache");
        assert!(i.excludes("a.tmp"));
        assert!(i.excludes("x/y/z.tmp"));
        assert!(i.excludes("build/cache"));
        assert!(i.excludes("build/a/b/cache/file"));
        assert!(!i.excludes("other/cache"));
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let i = ig("*.md\n!README.md\nREADME-secret.md");
        assert!(i.excludes("CHANGES.md"));
        assert!(!i.excludes("README.md"));
        assert!(i.excludes("README-secret.md"));
        let i = ig("data\n!data/keep.txt");
        assert!(i.excludes("data/other.txt"));
        assert!(!i.excludes("data/keep.txt"));
        assert!(!i.skips_dir("data"), "an exception may bring files back");
        assert!(ig("data").skips_dir("data"));
    }

    #[test]
    fn classes_escapes_and_cleaning() {
        let i = ig("[ab].txt\n[!x]y\nweird\\*name\n./dir//sub/\n");
        assert!(i.excludes("a.txt") && i.excludes("b.txt") && !i.excludes("c.txt"));
        assert!(i.excludes("zy") && !i.excludes("xy"));
        assert!(i.excludes("weird*name") && !i.excludes("weirdXname"));
        assert!(i.excludes("dir/sub/f"));
    }
}
