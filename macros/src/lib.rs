//! The attribute macro behind `#[dockhand::test]`.
//!
//! Use it through the `dockhand` crate, which documents every option:
//! this crate only parses, validates and rewrites the test function into a
//! call to `dockhand`'s test harness.

mod config;
mod expand;
mod params;

use proc_macro::TokenStream;

/// See `dockhand::test`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::test(args.into(), item.into()).into()
}
