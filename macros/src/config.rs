//! The options of `#[dockhand::test(...)]`: parsed, then validated into a `Config`.

use proc_macro2::Span;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Lit, Meta, Token};

/// Every option, with the one-line help shown when an unknown option is used.
const OPTIONS: &str =
    "`flavor`, `worker_threads`, `keep`, `timeout`, `skip_without_engine`, `network`, `crate`";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    CurrentThread,
    MultiThread,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Never,
    OnFailure,
    Always,
}

/// Validated options; `None` means "not given".
pub struct Config {
    pub flavor: Option<(Flavor, Span)>,
    pub worker_threads: Option<(usize, Span)>,
    pub keep: Option<Keep>,
    pub timeout_ms: Option<u64>,
    pub skip_without_engine: Option<bool>,
    pub network: bool,
    pub krate: Option<syn::Path>,
}

/// Collects errors so that all of them are reported at once.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    /// An error covering all of `tokens` (on stable, a plain span covers only
    /// the first token).
    pub fn spanned(&mut self, tokens: impl quote::ToTokens, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    pub fn into_error(self) -> Option<syn::Error> {
        self.0
    }
}

/// Parses and validates the attribute's arguments.
pub fn parse(args: proc_macro2::TokenStream, errors: &mut Errors) -> Config {
    let mut cfg = Config {
        flavor: None,
        worker_threads: None,
        keep: None,
        timeout_ms: None,
        skip_without_engine: None,
        network: false,
        krate: None,
    };
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(m) => m,
        Err(e) => {
            errors.push(e);
            return cfg;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for meta in metas {
        let path = meta.path();
        if path.segments.len() != 1 || path.leading_colon.is_some() {
            errors.at(
                path.span(),
                format!("unknown option; the options are {OPTIONS}"),
            );
            continue;
        }
        let name = path.segments[0].ident.to_string();
        if seen.contains(&name) {
            errors.at(meta.path().span(), format!("`{name}` set multiple times"));
            continue;
        }
        seen.push(name.clone());
        match name.as_str() {
            "flavor" => {
                if let Some((s, span)) = string_value(&meta, errors) {
                    match s.as_str() {
                        "current_thread" => cfg.flavor = Some((Flavor::CurrentThread, span)),
                        "multi_thread" => cfg.flavor = Some((Flavor::MultiThread, span)),
                        _ => errors.at(
                            span,
                            format!("unknown flavor `{s}`; use \"current_thread\" (the default) or \"multi_thread\""),
                        ),
                    }
                }
            }
            "worker_threads" => {
                if let Some((lit, span)) = value(&meta, errors) {
                    match lit {
                        Lit::Int(i) => match i.base10_parse::<usize>() {
                            Ok(0) | Err(_) => errors.at(
                                span,
                                "`worker_threads` must be a whole number of at least 1",
                            ),
                            Ok(n) => cfg.worker_threads = Some((n, span)),
                        },
                        _ => errors.at(
                            span,
                            "`worker_threads` takes a number, e.g. `worker_threads = 2`",
                        ),
                    }
                }
            }
            "keep" => {
                if let Some((s, span)) = string_value(&meta, errors) {
                    match s.as_str() {
                        "never" => cfg.keep = Some(Keep::Never),
                        "on-failure" | "on_failure" => cfg.keep = Some(Keep::OnFailure),
                        "always" => cfg.keep = Some(Keep::Always),
                        _ => errors.at(span, format!("unknown keep policy `{s}`; use \"never\", \"on-failure\" or \"always\"")),
                    }
                }
            }
            "timeout" => {
                if let Some((s, span)) = string_value(&meta, errors) {
                    match parse_duration_ms(&s) {
                        Some(0) | None => errors.at(
                            span,
                            format!("bad timeout `{s}`; write a positive number with a unit: \"500ms\", \"30s\", \"2m\""),
                        ),
                        Some(ms) => cfg.timeout_ms = Some(ms),
                    }
                }
            }
            "skip_without_engine" => cfg.skip_without_engine = flag(&meta, errors),
            "network" => cfg.network = flag(&meta, errors).unwrap_or(false),
            "crate" => match &meta {
                Meta::NameValue(nv) => match &nv.value {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) => match s.parse::<syn::Path>() {
                        Ok(p) => cfg.krate = Some(p),
                        Err(_) => errors.at(s.span(), format!("`{}` is not a path", s.value())),
                    },
                    Expr::Path(p) => cfg.krate = Some(p.path.clone()),
                    other => {
                        errors.spanned(other, "`crate` takes a path, e.g. `crate = my_dockhand`")
                    }
                },
                _ => errors.spanned(&meta, "`crate` takes a path, e.g. `crate = my_dockhand`"),
            },
            other => errors.at(
                meta.path().span(),
                format!("unknown option `{other}`; the options are {OPTIONS}"),
            ),
        }
    }
    if let (Some((Flavor::CurrentThread, _)), Some((_, span))) = (cfg.flavor, cfg.worker_threads) {
        errors.at(span, "`worker_threads` needs `flavor = \"multi_thread\"`");
    }
    cfg
}

/// A switch: bare (`network`) or `network = true|false`.
fn flag(meta: &Meta, errors: &mut Errors) -> Option<bool> {
    if let Meta::Path(_) = meta {
        return Some(true);
    }
    let (lit, span) = value(meta, errors)?;
    match lit {
        Lit::Bool(b) => Some(b.value),
        _ => {
            let name = option_name(meta);
            errors.at(
                span,
                format!("`{name}` takes `true` or `false`, or no value"),
            );
            None
        }
    }
}

/// The option's name, for messages.
fn option_name(meta: &Meta) -> String {
    meta.path()
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default()
}

fn value(meta: &Meta, errors: &mut Errors) -> Option<(Lit, Span)> {
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(l) => Some((l.lit.clone(), l.span())),
            other => {
                errors.spanned(other, "expected a literal value");
                None
            }
        },
        _ => {
            let name = option_name(meta);
            errors.spanned(meta, format!("`{name}` needs a value: `{name} = ...`"));
            None
        }
    }
}

fn string_value(meta: &Meta, errors: &mut Errors) -> Option<(String, Span)> {
    let (lit, span) = value(meta, errors)?;
    match lit {
        Lit::Str(s) => Some((s.value(), span)),
        _ => {
            let name = option_name(meta);
            errors.at(
                span,
                format!("`{name}` takes a string, e.g. `{name} = \"...\"`"),
            );
            None
        }
    }
}

/// `"500ms"`, `"30s"`, `"2m"`, `"1h"` → milliseconds.
fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("2m"), Some(120_000));
        assert_eq!(parse_duration_ms("30"), None);
        assert_eq!(parse_duration_ms("s"), None);
        assert_eq!(parse_duration_ms("3 weeks"), None);
    }
}
