//! Browser entry point: Trunk builds this binary with `--features csr`.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
