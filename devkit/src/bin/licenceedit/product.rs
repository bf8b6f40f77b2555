//! `licenceedit product …`: the vendor's catalogue. A product is an article of one series with the
//! fields every key redeemed from its codes gets: kind, licence count, validity, flags, version and
//! the update subscription (`SupportDate`, set at activation from a number of months or a fixed day).

use crate::Vendor;
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use licence_devkit::args::{date_arg, flag_list_arg};
use licence_devkit::catalogue::kind_name;
use licence_devkit::{clock, NewProduct, Product};
use licence_protocol::key::{KeyKind, SeriesId};
use licence_protocol::time::UtcTime;

#[derive(Subcommand)]
pub enum ProductCommand {
    /// Adds a product; its series' cryptkey must be in the vendor store and its article unused.
    Add(Box<Add>),
    /// Lists the products, one per line (or as JSON with --json).
    List(List),
    /// Prints one product as JSON.
    Show(Show),
}

#[derive(Args)]
pub struct Add {
    /// The series the product's keys belong to (672B).
    #[arg(long, value_name = "KEYID")]
    series: SeriesId,
    /// The vendor's catalogue number, unique in the store (`Article`).
    #[arg(long, value_name = "A")]
    article: String,
    /// `ProductName`: the configuration the keys are for.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// `ArticleName`: what the article is (main delivery, additional licences…).
    #[arg(long, value_name = "NAME", default_value = "")]
    article_name: String,
    /// The keys' kind.
    #[arg(long, value_enum)]
    kind: Kind,
    /// Licences per key, 1 or more.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Days each key works from its activation; none by default.
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    period: u32,
    /// A fixed last day for every key (2026-12-31 means 00:00 UTC of that day).
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    expire: Option<UtcTime>,
    /// Flag numbers 0–63 separated by commas (0,2,5), or a binary string of 3–64 digits, flag 0 rightmost.
    #[arg(long, value_name = "FLAGS", default_value = "", value_parser = flag_list_arg)]
    flags: u64,
    /// `ProductVersion`.
    #[arg(long, value_name = "V", default_value = "")]
    product_version: String,
    /// Update subscription: `SupportDate` = activation day plus N calendar months.
    #[arg(long, value_name = "N", conflicts_with = "support_until", value_parser = clap::value_parser!(u32).range(1..))]
    support_months: Option<u32>,
    /// Update subscription: a fixed `SupportDate` for every key.
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    support_until: Option<UtcTime>,
    /// Codes are redeemed only for requests that carry the licensee's ITN (ИНН).
    #[arg(long)]
    requires_itn: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Main,
    Additional,
    Demo,
}

#[derive(Args)]
pub struct List {
    /// Prints a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct Show {
    /// The product's article.
    article: String,
}

pub fn run(command: ProductCommand, vendor: &Vendor) -> Result<()> {
    match command {
        ProductCommand::Add(args) => add(*args, vendor),
        ProductCommand::List(args) => list(&args, vendor),
        ProductCommand::Show(args) => {
            crate::say(serde_json::to_string_pretty(&vendor.open()?.product(&args.article)?)?)
        }
    }
}

fn add(args: Add, vendor: &Vendor) -> Result<()> {
    let product = NewProduct {
        article: args.article,
        series: args.series,
        name: args.name,
        article_name: args.article_name,
        kind: match args.kind {
            Kind::Main => KeyKind::Main,
            Kind::Additional => KeyKind::Additional,
            Kind::Demo => KeyKind::Demo,
        },
        licence_count: args.count,
        period: args.period,
        expire_date: args.expire,
        flags: args.flags,
        product_version: args.product_version,
        support_months: args.support_months,
        support_until: args.support_until,
        requires_itn: args.requires_itn,
    };
    let added = vendor.open()?.add_product(&product, clock::now())?;
    crate::say(line(&added))
}

fn list(args: &List, vendor: &Vendor) -> Result<()> {
    let products = vendor.open()?.products()?;
    if args.json {
        return crate::say(serde_json::to_string_pretty(&products)?);
    }
    crate::say("ARTICLE\tKEYID\tKIND\tCOUNT\tPERIOD\tSUPPORT\tITN\tNAME")?;
    products.iter().try_for_each(|p| crate::say(line(p)))
}

/// One product as a line of the table.
fn line(p: &Product) -> String {
    let support = match (p.support_months, p.support_until) {
        (Some(months), _) => format!("{months}mo"),
        (None, Some(until)) => until.to_string()[..10].to_owned(),
        (None, None) => "-".into(),
    };
    let period = match (p.period, p.expire_date) {
        (0, None) => "-".to_owned(),
        (0, Some(end)) => format!("to {}", &end.to_string()[..10]),
        (days, None) => format!("{days}d"),
        (days, Some(end)) => format!("{days}d to {}", &end.to_string()[..10]),
    };
    format!(
        "{}\t{}\t{}\t{}\t{period}\t{support}\t{}\t{}",
        p.article,
        p.series,
        kind_name(p.kind),
        p.licence_count,
        if p.requires_itn { "required" } else { "-" },
        p.name
    )
}
