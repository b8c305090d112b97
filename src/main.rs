use std::process::ExitCode;

use speedometer::config::Settings;
use speedometer::startup::{shutdown_signal, Application};

#[actix_web::main]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
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
