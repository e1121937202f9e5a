"""Group calls in real browsers (a mesh: one peer connection per pair of people): alice calls bob and adds carol
from `Add person`; carol's tabs ring with `alice invites you to a call with bob`; each hears both others' tones;
dave joins and everyone hears the three others; dave hangs up and the three go on; carol's page reloads and her
voice comes back; the host removes the first callee, whose page says so, and the two left talk on (the
caller-callee leg gone with him). One group carried through these steps (each
step starts from where the one before left it), so four Chromiums start once."""

from playwright.sync_api import Locator, Page, expect

from voiceconnect.testing.browser import Person
from voiceconnect.testing.probes import wait_for_voices

from .conftest import accept, call


def participants(page: Page) -> Locator:
    return page.get_by_role('list', name='Participants')


def add_from_dialog(host: Person, invitee: Person) -> None:
    """The host opens `Add person`, types the name, and clicks `Add <name>`."""
    host.page.get_by_role('button', name='Add person').click()
    host.page.get_by_role('textbox', name='Add person').fill(invitee.name)
    host.page.get_by_role('button', name=f'Add {invitee.name}').click()


def accept_invitation(invitee: Person, inviter: Person, *others: Person) -> None:
    dialog = invitee.page.get_by_role('dialog')
    expect(dialog).to_contain_text('Incoming call')
    with_whom = ' and '.join(person.name for person in others)
    expect(dialog).to_contain_text(f'{inviter.name} invites you to a call with {with_whom}')
    expect(dialog.get_by_role('button', name='Accept')).to_be_focused()
    dialog.get_by_role('button', name='Accept').click()
    expect(participants(invitee.page)).to_be_visible()


def everyone_hears_the_others(group: list[Person], timeout: float = 20) -> None:
    for person in group:
        wait_for_voices(person.page, [other.tone_hz for other in group if other is not person], timeout=timeout)


def test_a_group_call_in_browsers_grows_shrinks_survives_a_reload_and_the_host_removes(vc_server, people) -> None:
    alice, bob, carol, dave = people(4)
    call(alice, bob)
    accept(alice, bob)
    expect(participants(alice.page)).to_be_hidden()  # two people: the call page as it always was

    add_from_dialog(alice, carol)
    expect(participants(alice.page).get_by_role('listitem').filter(has_text=carol.name)).to_contain_text('ringing…')
    accept_invitation(carol, alice, bob)
    vc_server.wait_for_log(f'👥 Joined: {carol.name} ({alice.name} → {bob.name} +1)')
    for person in (alice, bob, carol):
        expect(participants(person.page).get_by_role('listitem')).to_have_count(3)
    expect(participants(alice.page).get_by_role('listitem').filter(has_text=carol.name)).not_to_contain_text('ringing')
    everyone_hears_the_others([alice, bob, carol])
    # who speaks is shown per person, from that person's own link
    expect(participants(carol.page).get_by_label(f'{alice.name} is speaking')).to_be_visible()
    expect(participants(carol.page).get_by_label(f'{bob.name} is speaking')).to_be_visible()

    bob.page.get_by_role('button', name='Add person').click()  # anyone joined may add; only the host removes
    bob.page.get_by_role('textbox', name='Add person').fill(dave.name)
    bob.page.get_by_role('button', name=f'Add {dave.name}').click()
    accept_invitation(dave, bob, alice, carol)
    everyone_hears_the_others([alice, bob, carol, dave])

    carol.page.get_by_role('button', name='Mute', exact=True).click()
    expect(participants(alice.page).get_by_role('listitem').filter(has_text=carol.name)).to_contain_text('muted')
    wait_for_voices(alice.page, [bob.tone_hz, dave.tone_hz])  # carol's stream is silent now
    carol.page.get_by_role('button', name='Unmute').click()

    dave.page.get_by_role('button', name='Hang up').click()
    expect(dave.page.get_by_text('Call ended')).to_be_visible()
    for person in (alice, bob, carol):
        expect(participants(person.page).get_by_role('listitem')).to_have_count(3)
    everyone_hears_the_others([alice, bob, carol])

    carol.page.reload()  # a new document: her links are renewed and negotiated afresh
    expect(participants(carol.page).get_by_role('listitem')).to_have_count(3)
    everyone_hears_the_others([alice, bob, carol])

    expect(participants(bob.page).get_by_role('button', name=f'Remove {carol.name}')).to_have_count(0)  # not host
    # the host removes the first callee: the caller-callee leg goes with him, alice and carol talk over their link
    participants(alice.page).get_by_role('button', name=f'Remove {bob.name}').click()
    expect(bob.page.get_by_text(f'{alice.name} removed you from the call')).to_be_visible()
    expect(participants(alice.page).get_by_role('listitem')).to_have_count(2)
    everyone_hears_the_others([alice, carol])
    vc_server.wait_for_log(f'👥 Left: {bob.name}')
    assert 'Rejected signal' not in vc_server.log_text()  # every message on a leg or link came from its ends
