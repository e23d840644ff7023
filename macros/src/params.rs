//! The test function's parameters: `#[spec(expr)] name: T` where `expr` is a
//! `dockhand::Startable` spec that starts a `T` (a `ContainerSpec` starts a
//! `Container`, a `PostgresSpec` a `Postgres`…), or `name: T` where
//! `T: dockhand::Fixture`.

use syn::{FnArg, Pat, Type};

use crate::config::Errors;

pub enum Source {
    /// `#[spec(expr)]`: what the spec `expr` starts.
    Spec(syn::Expr),
    /// A type implementing `dockhand::Fixture`.
    Fixture,
}

pub struct Param {
    pub ident: syn::Ident,
    pub ty: Type,
    pub source: Source,
}

/// Reads the parameters, stripping `#[spec]` from them in place.
pub fn parse(
    inputs: &mut syn::punctuated::Punctuated<FnArg, syn::Token![,]>,
    errors: &mut Errors,
) -> Vec<Param> {
    let mut out = Vec::new();
    for arg in inputs.iter_mut() {
        let pt = match arg {
            FnArg::Receiver(r) => {
                errors.spanned(
                    &*r,
                    "a dockhand test cannot take `self`; make it a free function",
                );
                continue;
            }
            FnArg::Typed(pt) => pt,
        };
        let mut spec = None;
        let mut spec_attr_seen = false;
        let mut kept = Vec::new();
        for attr in pt.attrs.drain(..) {
            if !attr.path().is_ident("spec") {
                kept.push(attr);
                continue;
            }
            let first = !spec_attr_seen;
            spec_attr_seen = true;
            if !first {
                errors.spanned(&attr, "`#[spec]` given twice for one parameter");
                continue;
            }
            match attr.parse_args::<syn::Expr>() {
                Ok(e) => spec = Some(e),
                Err(_) => errors.spanned(
                    &attr,
                    "`#[spec]` needs the spec to start: `#[spec(my_spec())]`",
                ),
            }
        }
        pt.attrs = kept;
        let ident = match &*pt.pat {
            Pat::Ident(p) => p.ident.clone(),
            other => {
                errors.spanned(
                    other,
                    "a dockhand test parameter must be a plain name, like `db: MyDb`",
                );
                continue;
            }
        };
        let is_container = names_container(&pt.ty);
        let source = match spec {
            // The compiler checks that the spec starts the parameter's type.
            Some(expr) => Source::Spec(expr),
            // A malformed `#[spec]` was reported already.
            None if is_container && !spec_attr_seen => {
                errors.spanned(
                    &pt.ty,
                    format!("`{ident}: Container` needs to know what to start: add `#[spec(my_spec())]` before it"),
                );
                Source::Fixture
            }
            None => Source::Fixture,
        };
        out.push(Param {
            ident,
            ty: (*pt.ty).clone(),
            source,
        });
    }
    out
}

/// True when the type is spelled `Container` or `…::Container`.
fn names_container(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => {
            p.qself.is_none()
                && p.path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Container")
        }
        _ => false,
    }
}
