use std::process::ExitCode;

use speedometer::config::Settings;
use speedometer::startup::{shutdown_signal, Application};

#[actix_web::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", speedometer::config::usage());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env_and_args(&args) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("speedometer: {e}");
            return ExitCode::FAILURE;
        }
    };
    env_logger::Builder::new()
        .parse_filters(&settings.rust_log)
        .init();
    let app = match Application::build(&settings) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("speedometer: {e}");
            return ExitCode::FAILURE;
        }
    };
    log::info!("listening on {} (port {})", settings.bind, app.port());
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("speedometer: server failed: {e}");
            ExitCode::FAILURE
        }
    }
}
