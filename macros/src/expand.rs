//! Parse → validate → expand. On errors the function is still emitted (so
//! IDEs keep working on its body) next to the `compile_error!`s.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::config::{self, Errors, Flavor, Keep};
use crate::params::{self, Source};

pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let cfg = config::parse(args, &mut errors);
    let mut func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let err = e.to_compile_error();
            return quote! { #err #item };
        }
    };
    let is_async = func.sig.asyncness.is_some();
    if !func.sig.generics.params.is_empty() || func.sig.generics.where_clause.is_some() {
        errors.spanned(
            &func.sig.generics,
            "a dockhand test cannot be generic; libtest calls it with no type arguments",
        );
    }
    for attr in &func.attrs {
        let p = attr.path();
        let is_test = p.is_ident("test")
            || p.segments.last().is_some_and(|s| s.ident == "test") && p.segments.len() > 1;
        if is_test {
            errors.spanned(attr, "remove this attribute: `#[dockhand::test]` already makes the function a test (with its own runtime)");
        }
    }
    if !is_async {
        if let Some((_, span)) = cfg.flavor {
            errors.at(span, "`flavor` sets the async runtime, but this test is not `async`; make it `async fn` or drop `flavor`");
        }
        if let Some((_, span)) = cfg.worker_threads {
            errors.at(
                span,
                "`worker_threads` sets the async runtime, but this test is not `async`",
            );
        }
    }
    let params = params::parse(&mut func.sig.inputs, &mut errors);
    if let Some(err) = errors.into_error() {
        let err = err.to_compile_error();
        return quote! {
            #err
            #[allow(dead_code)]
            #func
        };
    }
    render(cfg, func, params)
}

fn render(cfg: config::Config, func: syn::ItemFn, params: Vec<params::Param>) -> TokenStream {
    let krate = cfg
        .krate
        .clone()
        .map(|p| quote!(#p))
        .unwrap_or_else(|| quote!(::dockhand));
    let support = quote!(#krate::__macro_support);
    let name = &func.sig.ident;
    let vis = &func.vis;
    let attrs = &func.attrs;
    let body_ident = format_ident!("__dockhand_test_body");
    let mut inner = func.clone();
    inner.sig.ident = body_ident.clone();
    inner.attrs.clear();
    inner.vis = syn::Visibility::Inherited;

    let flavor = match cfg.flavor {
        Some((Flavor::MultiThread, _)) => {
            let workers = match cfg.worker_threads {
                Some((n, _)) => quote!(::core::option::Option::Some(#n)),
                None => quote!(::core::option::Option::None),
            };
            quote!(#support::Flavor::MultiThread(#workers))
        }
        _ => quote!(#support::Flavor::CurrentThread),
    };
    let keep = match cfg.keep {
        None => quote!(::core::option::Option::None),
        Some(k) => {
            let v = match k {
                Keep::Never => quote!(Never),
                Keep::OnFailure => quote!(OnFailure),
                Keep::Always => quote!(Always),
            };
            quote!(::core::option::Option::Some(#support::KeepPolicy::#v))
        }
    };
    let timeout = match cfg.timeout_ms {
        Some(ms) => quote!(::core::option::Option::Some(#support::Duration::from_millis(#ms))),
        None => quote!(::core::option::Option::None),
    };
    let skip = match cfg.skip_without_engine {
        Some(b) => quote!(::core::option::Option::Some(#b)),
        None => quote!(::core::option::Option::None),
    };

    // A `#[test]` function only compiles under cfg(test); check the fixture
    // bounds and what each `#[spec]` starts outside it too, so `cargo check`
    // (and IDEs) report a parameter that is not a fixture at its type, and a
    // spec that does not start the parameter's type at the spec.
    let fixture_checks: Vec<TokenStream> = params
        .iter()
        .filter(|p| matches!(p.source, Source::Fixture))
        .map(|p| {
            let ty = &p.ty;
            quote_spanned! {ty.span()=> let _ = __dockhand_is_fixture::<#ty>; }
        })
        .collect();
    let spec_checks: Vec<TokenStream> = params
        .iter()
        .filter_map(|p| match &p.source {
            Source::Spec(expr) => {
                let ty = &p.ty;
                Some(quote_spanned! {expr.span()=>
                    let _ = || __dockhand_starts::<#ty, _>(#expr);
                })
            }
            Source::Fixture => None,
        })
        .collect();
    let checks = if fixture_checks.is_empty() && spec_checks.is_empty() {
        quote!()
    } else {
        quote! {
            #[cfg(not(test))]
            const _: () = {
                fn __dockhand_is_fixture<T: #krate::Fixture>() {}
                fn __dockhand_starts<T, S: #krate::Startable<Started = T>>(_: S) {}
                fn __dockhand_specs() {
                    #(#spec_checks)*
                }
                #(#fixture_checks)*
            };
        }
    };
    let network = cfg.network;
    let idents: Vec<_> = params.iter().map(|p| p.ident.clone()).collect();
    let setups: Vec<TokenStream> = params
        .iter()
        .map(|p| {
            let label = p.ident.to_string();
            match &p.source {
                Source::Spec(expr) => {
                    let ty = &p.ty;
                    quote_spanned! {expr.span()=>
                        #support::container_parameter::<#ty, _>(__DOCKHAND_PATH, #label, #expr)
                    }
                }
                Source::Fixture => {
                    let ty = &p.ty;
                    quote_spanned! {ty.span()=>
                        #support::fixture_parameter::<#ty>(__DOCKHAND_PATH, #label)
                    }
                }
            }
        })
        .collect();
    let setup = if params.is_empty() {
        quote!(::core::result::Result::<(), #support::SetupFailure>::Ok(()))
    } else {
        quote! {
            #support::futures::try_join!(#(#setups),*).map(|(#(#idents,)*)| (#(#idents,)*))
        }
    };
    let call_args = quote!(#(#idents),*);
    let run = if func.sig.asyncness.is_some() {
        quote! {
            #support::run_async(__dockhand_options, || async move {
                let (#(#idents,)*) = #setup?;
                ::core::result::Result::Ok(#body_ident(#call_args).await)
            });
        }
    } else {
        quote! {
            #support::run_sync(
                __dockhand_options,
                || async move { #setup },
                |(#(#idents,)*)| #body_ident(#call_args),
            );
        }
    };
    quote! {
        #checks
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() {
            #inner
            const __DOCKHAND_PATH: &str = ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name));
            let __dockhand_options = #support::TestOptions {
                path: __DOCKHAND_PATH,
                flavor: #flavor,
                keep: #keep,
                timeout: #timeout,
                skip_without_engine: #skip,
                network: #network,
            };
            #run
        }
    }
}
