//! Unit tests of the app with a manual clock: leases end when the clock says so, and the settings the
//! console saves are in force whole, for the ledger and the guard alike.

use super::*;
use crate::access::Scope;
use crate::clock::ManualClock;

fn start(tag: &str, conf: &str) -> (App, Arc<ManualClock>, std::path::PathBuf) {
    let root = std::env::temp_dir().join(format!("licence-app-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let layout = Layout::new(&root);
    layout.create_dirs().unwrap();
    std::fs::write(root.join("machine-id"), "app-test-machine").unwrap();
    std::fs::write(layout.config_file(), conf).unwrap();
    let (mut config, problems) = crate::config::load(&layout.config_file());
    assert!(problems.is_empty(), "{problems:?}");
    config.startup.machine_id_file = Some(root.join("machine-id"));
    config.settings.usb_enabled = false;
    let clock = Arc::new(ManualClock::at(UtcTime::parse("2026-03-01T09:00:00Z").unwrap()));
    let app = App::start_with_clock(config, layout, clock.clone()).unwrap();
    (app, clock, root)
}

fn facts() -> ConnectRequest {
    ConnectRequest {
        os_version: "Linux".into(),
        computer_name: "PC1".into(),
        local_ip: "10.0.0.5".into(),
        process: "/opt/1cv8/x86_64/8.3.25/1cv8c".into(),
        cpu: "x86_64".into(),
        pid: 4242,
        is_server: false,
        platform_version: "8.3.25.1257".into(),
        module_name: "liblicenceaddin.so".into(),
        version: licence_protocol::VERSION.into(),
        key_id: "672B".parse().unwrap(),
        client_key: None,
        protocol: licence_protocol::wire::PROTOCOL,
        series_public_key: Some(hex::encode([7u8; 32])),
    }
}

async fn connect(app: &App, id: &str) -> UtcTime {
    let id = id.to_owned();
    app.mutate(move |ledger, now| Ok(ledger.connect(id, facts(), "10.0.0.5".into(), now).expire_time)).await.unwrap()
}

#[tokio::test]
async fn a_connection_ends_when_the_injected_clock_passes_its_lease() {
    let (app, clock, root) = start("expiry", "[Common]\nConnectionTimeout=20\n");
    let expire_time = connect(&app, "C1").await;
    assert_eq!(expire_time, app.now().plus(Duration::from_secs(20)));
    clock.advance(Duration::from_secs(19));
    app.expire();
    assert!(app.read(|inner, _| inner.ledger.connection("C1").is_some()), "19 s of a 20 s lease");
    clock.advance(Duration::from_secs(2));
    app.expire();
    assert!(app.read(|inner, _| inner.ledger.connection("C1").is_none()), "past its lease");
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn saved_settings_are_in_force_whole_for_the_ledger_the_guard_and_the_console() {
    let (app, _, root) = start("settings", "[Common]\nConnectionTimeout=20\n");
    assert!(app.guard.needs_new_password(Scope::Console));
    let hash = crate::access::passwords::hash("a-new-pass-1");
    app.save_settings(&[("Common", "ConnectionTimeout", "45"), ("Console", "Password", &hash)]).unwrap();
    let settings = app.settings();
    assert_eq!(settings.connection_timeout, 45);
    assert_eq!(app.running_config().settings, *settings, "what the console shows is what is in force");
    assert_eq!(app.guard.access(Scope::Console).password, hash, "the guard reads the same value");
    assert!(!app.guard.needs_new_password(Scope::Console));
    let expire_time = connect(&app, "C2").await;
    assert_eq!(expire_time, app.now().plus(Duration::from_secs(45)), "the ledger gives the new lease");
    let text = std::fs::read_to_string(app.layout.config_file()).unwrap();
    assert!(text.contains("ConnectionTimeout=45") && text.contains(&hash), "{text}");
    let _ = std::fs::remove_dir_all(root);
}
