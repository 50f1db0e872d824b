use super::*;

fn field<T: std::fmt::Debug>(r: Result<T, AdminError>) -> String {
    match r {
        Err(AdminError::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn input() -> AccountInput {
    AccountInput {
        name: " main ".into(),
        api_key: " sk-1 ".into(),
        ..Default::default()
    }
}

#[test]
fn new_accounts_get_defaults_and_trimmed_fields() {
    let a = new_account(input()).unwrap();
    assert_eq!((a.name.as_str(), a.api_key.as_str()), ("main", "sk-1"));
    assert_eq!(a.platform, Platform::Claude);
    assert_eq!(
        a.base_url,
        Platform::Claude.default_base_url().trim_end_matches('/')
    );
    assert_eq!((a.priority, a.is_active, a.schedulable), (50, true, true));
    assert_eq!(a.azure, AzureChanges::default());
    let openai = new_account(AccountInput {
        platform: Some(Platform::Openai),
        base_url: Some("https://x.example/v1/".into()),
        azure_deployment: Some(" ".into()),
        azure_api_version: Some("2024-10-21".into()),
        model_mapping: Some([(" a ".into(), " b ".into())].into()),
        ..input()
    })
    .unwrap();
    assert_eq!(openai.base_url, "https://x.example/v1");
    assert_eq!(openai.azure.deployment, Some(None), "blank is none");
    assert_eq!(openai.azure.api_version, Some(Some("2024-10-21".into())));
    assert_eq!(openai.model_mapping, [("a".into(), "b".into())].into());
}

#[test]
fn every_bad_field_is_named() {
    let bad = |f: fn(&mut AccountInput)| {
        let mut i = input();
        f(&mut i);
        field(new_account(i))
    };
    assert_eq!(bad(|i| i.name = " ".into()), "name");
    assert_eq!(bad(|i| i.name = "n".repeat(101)), "name");
    assert_eq!(bad(|i| i.api_key = "a\nb".into()), "apiKey");
    assert_eq!(bad(|i| i.base_url = Some("ftp://x".into())), "baseUrl");
    assert_eq!(
        bad(|i| i.base_url = Some("https://x/?q=1".into())),
        "baseUrl"
    );
    assert_eq!(bad(|i| i.proxy = Some("ftp://p".into())), "proxy");
    assert_eq!(
        bad(|i| i.supported_models = Some(vec![" ".into()])),
        "supportedModels"
    );
    assert_eq!(
        bad(|i| i.model_mapping = Some([("a".into(), "".into())].into())),
        "modelMapping"
    );
    assert_eq!(bad(|i| i.max_concurrency = Some(0)), "maxConcurrency");
    assert_eq!(bad(|i| i.monthly_cost = Some(-1.0)), "monthlyCost");
    assert_eq!(bad(|i| i.monthly_cost = Some(f64::NAN)), "monthlyCost");
    assert_eq!(bad(|i| i.notes = Some("n".repeat(2001))), "notes");
    assert_eq!(
        bad(|i| i.azure_deployment = Some("d".into())),
        "azureDeployment"
    );
}

#[test]
fn create_and_update_apply_the_same_rules() {
    let patch = |f: fn(&mut AccountPatch)| {
        let mut p = AccountPatch::default();
        f(&mut p);
        account_changes(p, Platform::Claude)
    };
    assert_eq!(
        patch(|_| {}).unwrap(),
        AccountChanges::default(),
        "empty patch"
    );
    assert_eq!(field(patch(|p| p.name = Some("".into()))), "name");
    assert_eq!(field(patch(|p| p.api_key = Some("".into()))), "apiKey");
    assert_eq!(field(patch(|p| p.base_url = Some("x".into()))), "baseUrl");
    assert_eq!(field(patch(|p| p.proxy = Some(Some("x".into())))), "proxy");
    assert_eq!(
        field(patch(|p| p.max_concurrency = Some(Some(0)))),
        "maxConcurrency"
    );
    assert_eq!(field(patch(|p| p.monthly_cost = Some(-0.5))), "monthlyCost");
    assert_eq!(field(patch(|p| p.notes = Some("n".repeat(2001)))), "notes");
    assert_eq!(
        field(patch(|p| p.azure_api_version = Some(None))),
        "azureDeployment",
        "not an openai account"
    );
    let ok = patch(|p| {
        p.proxy = Some(Some("  ".into()));
        p.max_concurrency = Some(None);
        p.supported_models = Some(vec![" m* ".into()]);
    })
    .unwrap();
    assert_eq!(ok.proxy, Some(None), "blank proxy removes it");
    assert_eq!(ok.max_concurrency, Some(None));
    assert_eq!(ok.supported_models, Some(vec!["m*".to_owned()]));
}

#[test]
fn group_fields() {
    assert_eq!(name("name", " g ").unwrap(), "g");
    assert_eq!(field(group_description("d".repeat(501))), "description");
    assert_eq!(group_description("d".repeat(500)).unwrap().len(), 500);
}
