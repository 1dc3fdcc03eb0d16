//! The shipped rules, per category and language, with their near misses.

use super::*;

fn triage() -> &'static Triage {
    Triage::shared().expect("the triage rules compile")
}

#[track_caller]
fn alarm(text: &str, category: &str) {
    let found = triage().check(text);
    assert_eq!(
        found.as_ref().map(|a| a.category.as_str()),
        Some(category),
        "{text:?}: {:?}",
        triage().explain(text)
    );
}

#[track_caller]
fn calm(text: &str) {
    assert_eq!(
        triage().check(text),
        None,
        "{text:?}: {:?}",
        triage().explain(text)
    );
}

#[test]
fn the_rules_compile_and_every_concept_is_phrased() {
    let t = triage();
    assert!(t.categories().count() >= 30);
    // phrasings are compiled when first needed: each must compile alone
    assert_eq!(t.broken_phrasings(), Vec::new());
}

/// Every category with phrasings of its own, and the near misses beside it.
#[test]
fn each_category_fires_on_lay_phrasings() {
    for (text, category) in [
        (
            "temp 38.6 and shivery, he had chemo on monday",
            "fever_after_treatment",
        ),
        (
            "she's burning up, teeth chattering, 5 days after her cycle",
            "fever_after_treatment",
        ),
        ("hes cold and clammy and just not himself", "sepsis"),
        (
            "she cant catch her breath, lips going blue",
            "breathlessness",
        ),
        (
            "crushing pain in his chest going into his jaw",
            "chest_pain",
        ),
        (
            "calf swollen and hot and now shes short of breath",
            "blood_clot",
        ),
        ("he's throwing up blood", "bleeding"),
        ("black tarry poo this morning and she is dizzy", "bleeding"),
        ("nosebleed wont stop for an hour", "bleeding"),
        (
            "his back is killing him and his legs went numb",
            "spinal_cord_compression",
        ),
        (
            "she wet herself and cant feel her legs",
            "spinal_cord_compression",
        ),
        ("mum is suddenly really confused and sleepy", "confusion"),
        ("his face and neck are all puffed up", "svco"),
        ("he is having a fit", "seizure"),
        ("we cant wake her up", "unresponsive"),
        ("dad fainted in the shower", "collapse"),
        (
            "i think she took too many of her morphine tablets",
            "overdose",
        ),
        ("he keeps saying we'd be better off without him", "suicidal"),
        (
            "on opdivo and has watery diarrhoea 7 times today",
            "immunotherapy_colitis",
        ),
        (
            "new dry cough since starting keytruda",
            "immunotherapy_pneumonitis",
        ),
        (
            "right after the drip started her lips swelled up",
            "infusion_reaction",
        ),
        ("her throat is closing up", "anaphylaxis"),
        ("cant keep any water down since yesterday", "dehydration"),
        ("his face is drooping on one side", "stroke"),
        ("she fell and hit her head, shes on warfarin", "head_injury"),
        (
            "the pain is unbearable even after the breakthrough dose",
            "uncontrolled_pain",
        ),
        (
            "belly swollen hard and he keeps vomiting",
            "bowel_obstruction",
        ),
        ("two days after car-t he has a fever of 39", "car_t_crs"),
        (
            "since the car t infusion he cant find his words",
            "car_t_icans",
        ),
        (
            "on yervoy, extremely thirsty and vomiting",
            "immunotherapy_endocrine",
        ),
        ("her eyes have gone yellow", "immunotherapy_hepatitis"),
        (
            "skin peeling off all over and blisters in his mouth",
            "severe_skin_reaction",
        ),
        ("the drip leaked and her arm is burning", "extravasation"),
        ("suddenly lost the sight in one eye", "vision_loss"),
        ("mouth full of ulcers, cant swallow anything", "mucositis"),
    ] {
        alarm(text, category);
    }
}

#[test]
fn general_questions_past_events_hypotheticals_and_idioms_are_not_alarms() {
    for text in [
        "does car-t cause seizures?",
        "what is cytokine release syndrome?",
        "what are the warning signs of sepsis during chemo?",
        "what should we do if he gets a fever on chemo",
        "two weeks ago he had chest pain and they checked, it was fine",
        "last year she had a seizure, can she still fly?",
        "this waiting is killing me",
        "i am dying to know the scan results",
        "we are drowning in paperwork",
        "his cancer is not responding to keytruda anymore",
        "what does overdose mean in the consent form",
        "how do we talk to the kids about dad dying",
        "he is scared to die",
        "im so confused about the trial options",
        "should he stop immunotherapy if it is not working",
        "my sister's hair is falling out, is that normal with chemo",
        "how is breathlessness managed in advanced lung cancer?",
        "when is breathlessness an emergency and when is it expected in lung cancer?",
        "can acupuncture help with the tingling in her feet from chemo? it's been there for months",
    ] {
        calm(text);
    }
}

/// The guide's own subject is a cancer that stopped responding to treatment; a person who does
/// not respond is an emergency, and a treatment named nearby does not change that.
#[test]
fn a_cancer_not_responding_to_treatment_is_not_a_person_not_responding() {
    for text in [
        "my mum's cancer stopped responding to a single immunotherapy drug, what else is there",
        "the tumour is not responding to the third line of chemo",
        "his cancer isn't responding anymore to anti-PD-1",
        "her lung cancer stopped responding after two years of opdivo",
        "it is not responding to the new drug either",
        "how do I not collapse myself while caring for mum",
        "I feel like I'm about to collapse from exhaustion, how do caregivers cope",
    ] {
        calm(text);
    }
    for text in [
        "dad is not responding to me after chemo",
        "she's not responding to her name, she's on keytruda",
        "mum stopped responding to us an hour ago, she's on keytruda",
        "he won't respond to me or anything since the chemo this morning",
    ] {
        alarm(text, "unresponsive");
    }
}

#[test]
fn acute_words_outweigh_a_reason_not_to_alarm() {
    // a past event, then what is happening now
    alarm(
        "two weeks ago he had chest pain and they said it was fine, but now he has chest pain again",
        "chest_pain",
    );
    // an idiom is taken out, the red flag beside it stays
    alarm(
        "this waiting is killing me and dad cant breathe",
        "breathlessness",
    );
    // a reading is taken from a person: a general question tacked on does not undo it
    alarm(
        "fever 38.8 on day 3 after CAR-T - also wanted to ask how long until we know if it worked?",
        "car_t_crs",
    );
    // ... but not a past event: the phrasings set it aside (the model may still alarm, as it
    // cannot read the tense, and errs on the side of an alarm)
    let past = "last week dad had a temp of 38.5, they gave antibiotics and he came home";
    assert!(
        triage()
            .explain(past)
            .categories
            .iter()
            .any(|(_, verdict)| verdict.starts_with("not an alarm: a past event")),
        "{:?}",
        triage().explain(past)
    );
    // what the writer is doing is not a past event's report; the symptom since last evening is
    alarm(
        "we are planning a trip in december. also since last evening he got breathless and sats are 89, not sure if relevant",
        "breathlessness",
    );
    alarm(
        "dad told me he has a plan to take all his morphine at once. should i tell the oncologist?",
        "suicidal",
    );
    // a question tacked onto what is happening is still what is happening
    alarm(
        "he's coughing up blood, is that a side effect of the chemo?",
        "bleeding",
    );
}

#[test]
fn explain_names_the_words_that_fired() {
    let e = triage().explain("this waiting is killing me and dad cant breathe");
    assert!(e.matched.iter().any(|(kind, ..)| *kind == "idiom"));
    assert!(e
        .matched
        .iter()
        .any(|(kind, name, ..)| *kind == "concept" && name == "breathless"));
    assert_eq!(
        e.alarm.map(|a| a.category),
        Some("breathlessness".to_string())
    );
}

/// Emergencies worded as no phrasing foresees: the learned model raises them, under the
/// `[learned]` entry of categories.toml, with the general emergency notice; it says why in
/// `--explain`, and it is not asked about a few words or a message with an idiom.
#[test]
fn the_model_raises_what_the_phrasings_do_not_name() {
    let mut by_model = 0;
    for text in [
        "he went a funny colour and his breathing sounds like a kettle, this is after his keytruda",
        "my brother is sat on the bathroom floor and wont answer me properly, his eyes look weird",
        "dad is acting really odd since the CAR-T, he wrote his name and it was just squiggles",
    ] {
        let e = triage().explain(text);
        let alarm = e
            .alarm
            .unwrap_or_else(|| panic!("{text}: {:?}", e.categories));
        if alarm.category == "reads_like_an_emergency" {
            by_model += 1;
            assert_eq!(alarm.notice, Notice::Emergency);
            assert!(alarm.label.starts_with("possible emergency"));
            assert!(e
                .categories
                .iter()
                .any(|(id, why)| id == "reads_like_an_emergency" && why.contains("probability")));
        }
    }
    assert!(by_model > 0, "the model was never the one to alarm");
    // not about a few words, nor a message whose red-flag words are an idiom
    calm("you are very helpful");
    calm("his cancer is not responding to keytruda anymore");
}

/// Red flags and calm messages in each language the check reads, written by reviewers of
/// those languages.
#[test]
fn each_language_alarms_on_its_red_flags_and_not_on_its_near_misses() {
    for (text, language) in [
        ("he can't breathe", "en"),
        ("mi padre no puede respirar", "es"),
        ("minha mãe está com falta de ar", "pt"),
        ("папа не может дышать", "ru"),
        ("тато блює кров'ю", "uk"),
        ("У папы после химии температура 38,7 и его знобит", "ru"),
        ("Муж потерял сознание и не приходит в себя", "ru"),
        ("mama ne prosypaetsya, pomogite", "ru"),
        ("Мама задихається, не може дихати", "uk"),
        ("Тато блює кров'ю", "uk"),
        ("Анам дем ала алмай жатыр", "kk"),
        ("Күйеуім есінен танып қалды", "kk"),
        ("Annem nefes alamıyor", "tr"),
        ("Eşim bayıldı, kendine gelmiyor", "tr"),
        ("a mi padre le falta el aire", "es"),
        ("mi padre dice que se quiere morir", "es"),
        ("meu marido desmaiou", "pt"),
        ("o nariz dele sangra há uma hora e não para", "pt"),
        ("il n'arrive plus à respirer", "fr"),
        ("mon père dit qu'il veut en finir", "fr"),
        ("er krampft", "de"),
        ("mein Vater erbricht Blut", "de"),
        ("ابوي ما يقدر يتنفس الحين", "ar"),
        ("زوجي عنده حرارة 39 بعد الكيماوي", "ar"),
        ("妈妈突然说话不清，嘴歪了", "zh"),
        ("我爸化疗后发烧39度，怎么办", "zh"),
    ] {
        let found = triage().check(text);
        assert_eq!(
            found.as_ref().map(|a| a.language),
            Some(language),
            "{text:?}: {:?}",
            triage().explain(text)
        );
    }
    for text in [
        "Что делать если у него поднимется температура после химии?",
        "Месяц назад у папы была температура 39, всё прошло",
        "Які побічні ефекти у хіміотерапії?",
        "Ateşi çıkarsa ne yapmalıyız?",
        "Gülmekten öldüm",
        "¿la inmunoterapia puede causar diarrea?",
        "hace dos meses tuvo fiebre pero ya está bien",
        "a imunoterapia pode causar diarreia?",
        "cette attente me tue",
        "kann die Immuntherapie Durchfall verursachen?",
        "هل يسبب العلاج المناعي الحمى؟",
        "化疗会引起发烧吗？",
        "累死了，等结果急死了",
    ] {
        calm(text);
    }
}
