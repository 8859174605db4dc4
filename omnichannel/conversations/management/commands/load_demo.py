"""Idempotent demo data: roles' users, queues, workstreams, records and a few conversations.

Conversations are driven through the actions, so their timelines are real.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from omnichannel.conversations.actions.assignment import (
    conversation_accept,
    conversation_create,
    conversation_offer,
    conversation_pick,
)
from omnichannel.conversations.actions.cases import case_create
from omnichannel.conversations.actions.ending import (
    conversation_close_session,
    conversation_customer_end,
    conversation_end,
)
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.capacity import WrapUpBlock
from omnichannel.conversations.models import (
    Account,
    AgentProfile,
    CannedResponse,
    Contact,
    Conversation,
    Distribution,
    PreChatQuestion,
    Presence,
    PresenceBase,
    Queue,
    SenderRole,
    Visitor,
    Workstream,
)
from omnichannel.conversations.roles import ADMINISTRATOR, AGENT, SUPERVISOR, ensure_roles
from omnichannel.conversations.states import Channel
from omnichannel.knowledge.models import Article

# (username, password, first name, last name, role, capacity)
DEMO_USERS = [
    ("admin", "admin", "Ada", "Admin", ADMINISTRATOR, None),
    ("supervisor", "supervisor", "Sofie", "Supervisor", SUPERVISOR, 30),
    ("agent1", "agent1", "Anna", "Jensen", AGENT, 30),
    ("agent2", "agent2", "Bo", "Nielsen", AGENT, 30),
    ("agent3", "agent3", "Carla", "Virtanen", AGENT, 20),
]


CANNED_RESPONSES = [
    ("Greeting", "Hi, thanks for reaching out! How can I help you today?"),
    ("Order number", "Could you give me your order number, please?"),
    ("Looking into it", "Thank you. Give me a moment while I look into this."),
    ("Anything else", "Is there anything else I can help you with?"),
    ("Goodbye", "Thanks for chatting with us. Have a great day!"),
]

# (slug, title, keywords, body): the knowledge base agents search and link in chats (KB-1).
ARTICLES = [
    (
        "refund-a-double-charge",
        "Refund a double charge",
        "charged twice, duplicate payment, money back",
        "If a card was charged twice for one order, the second charge is usually a reservation that "
        "the bank releases within 5 working days.\n\nIf it is still there after 5 days, we refund it: "
        "open the invoice in My account and choose Request refund, or ask us in the chat.",
    ),
    (
        "track-your-order",
        "Track your order",
        "parcel, shipment, where is my order, delivery status",
        "Every order gets a tracking link by email when it leaves our warehouse.\n\nOpen My account, "
        "choose Orders and select the order to see where the parcel is.",
    ),
    (
        "delivery-times",
        "Delivery times and costs",
        "shipping, how long, express",
        "Standard delivery takes 2 to 4 working days and is free above 50 EUR. Express delivery arrives "
        "the next working day when ordered before 14:00.",
    ),
    (
        "return-an-item",
        "Return an item",
        "send back, exchange, return label",
        "You can return items within 30 days. Print the return label from My account, pack the item "
        "and drop it at any parcel shop. The refund follows within 5 days of our receiving it.",
    ),
    (
        "reset-your-password",
        "Reset your password",
        "log in, sign in, forgot password, locked out",
        "Choose Forgot password on the sign-in page and enter your email address. The link we send "
        "is valid for one hour.",
    ),
    (
        "change-invoice-address",
        "Change the address on an invoice",
        "billing address, company name, VAT number",
        "Invoices can be reissued with a new address or VAT number within 3 months. Send us the invoice "
        "number and the new details in the chat.",
    ),
]


class Command(BaseCommand):
    help = "Load demo users, configuration and conversations (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Printed in front of the URLs.")

    def handle(self, *args, base_url: str, **options):
        with transaction.atomic():
            ensure_roles()
            users = self._users()
            workstreams = self._configuration(users)
            self._articles()
            if not Conversation.objects.exists():
                self._conversations(users, workstreams)
        self._print_logins(base_url.rstrip("/"))

    def _users(self) -> dict:
        User = get_user_model()
        available = Presence.objects.get(base=PresenceBase.AVAILABLE, name="Available")
        users = {}
        for username, password, first, last, role, capacity in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(password)
            user.is_staff = role == ADMINISTRATOR
            user.is_superuser = role == ADMINISTRATOR
            user.save()
            user.groups.add(Group.objects.get(name=role))
            if capacity:
                AgentProfile.objects.get_or_create(user=user, defaults={"capacity": capacity, "presence": available})
            users[username] = user
        return users

    def _configuration(self, users: dict) -> dict:
        general, _ = Queue.objects.get_or_create(name="General support")
        billing, _ = Queue.objects.get_or_create(name="Billing")
        general.members.add(users["agent1"], users["agent2"], users["agent3"], users["supervisor"])
        billing.members.add(users["agent2"], users["supervisor"])
        Presence.objects.get_or_create(name="In training", defaults={"base": PresenceBase.BUSY_DND})
        allowed = list(Presence.objects.filter(base__in=[PresenceBase.AVAILABLE, PresenceBase.BUSY]))
        specs = [
            (
                "Web chat",
                Channel.LIVE_CHAT,
                general,
                {"wrap_up_block": WrapUpBlock.MINUTES, "wrap_up_block_minutes": 5},
            ),
            ("Persistent web chat", Channel.LIVE_CHAT, general, {"persistent_chat": True}),
            ("SMS", Channel.SMS, general, {"distribution": Distribution.PICK}),
            ("WhatsApp", Channel.WHATSAPP, general, {}),
            ("Voice", Channel.VOICE, general, {"capacity_units": 30}),
            ("Cases", Channel.CASE, billing, {"capacity_units": 5, "distribution": Distribution.PICK}),
        ]
        workstreams = {}
        for name, channel, queue, extra in specs:
            workstream, created = Workstream.objects.get_or_create(
                name=name, defaults={"channel": channel, "default_queue": queue, **extra}
            )
            if created:
                workstream.allowed_presences.set(allowed)
            workstreams[name] = workstream
        for workstream in (workstreams["Web chat"], workstreams["Persistent web chat"]):
            PreChatQuestion.objects.get_or_create(
                workstream=workstream,
                key="topic",
                defaults={
                    "label": "What can we help you with?",
                    "choices": "Orders\nBilling\nTechnical help",
                    "order": 1,
                },
            )
            PreChatQuestion.objects.get_or_create(
                workstream=workstream, key="order", defaults={"label": "Order number", "required": False, "order": 2}
            )
        for title, body in CANNED_RESPONSES:
            CannedResponse.objects.get_or_create(title=title, defaults={"body": body})
        return workstreams

    def _articles(self) -> None:
        for slug, title, keywords, body in ARTICLES:
            Article.objects.get_or_create(
                slug=slug, defaults={"title": title, "keywords": keywords, "body": body, "published": True}
            )

    def _conversations(self, users: dict, workstreams: dict) -> None:
        acme = Account.objects.create(name="Acme A/S")
        mette = Contact.objects.create(first_name="Mette", last_name="Larsen", email="mette@example.com", account=acme)
        jukka = Contact.objects.create(first_name="Jukka", last_name="Mäkinen", phone="+358401234567")
        lars = Contact.objects.create(first_name="Lars", last_name="Holm", phone="+4520304050")
        agent1, agent2 = users["agent1"], users["agent2"]
        # The invoice case goes to the billing back office as a record work item (MSG-2), to be
        # picked there (Cases is a pick workstream): an offer would hold units of whoever signs in first.
        invoice = case_create(title="Invoice 10452 charged twice", contact=mette, actor=agent1)

        # Waiting in Open work items for an agent to Pick (SMS is a pick workstream): nothing
        # waiting is offered to the first agent to sign in, so every agent keeps room for the
        # chats that readers of the README start at /demo/.
        sms_waiting = conversation_create(workstream=workstreams["SMS"], contact=lars)
        message_post(
            conversation=sms_waiting, sender_role=SenderRole.CUSTOMER, body="Can I still change my delivery address?"
        )

        # Active with agent1, a few messages exchanged.
        chat = conversation_create(workstream=workstreams["Web chat"], contact=mette, case=invoice)
        conversation_offer(conversation=chat, agent=agent1)
        conversation_accept(conversation=chat, agent=agent1)
        message_post(conversation=chat, sender_role=SenderRole.CUSTOMER, body="Hi, I was charged twice.")
        message_post(
            conversation=chat, sender_role=SenderRole.AGENT, sender=agent1, body="Sorry to hear that, let me check."
        )

        # Wrap-up with agent2.
        sms = conversation_create(workstream=workstreams["SMS"], contact=jukka)
        conversation_pick(conversation=sms, agent=agent2)
        message_post(conversation=sms, sender_role=SenderRole.CUSTOMER, body="Is my order shipped?")
        conversation_end(conversation=sms, agent=agent2)

        # Waiting for the customer's answer.
        whatsapp = conversation_create(workstream=workstreams["WhatsApp"], contact=mette)
        conversation_pick(conversation=whatsapp, agent=agent1)
        message_post(
            conversation=whatsapp, sender_role=SenderRole.AGENT, sender=agent1, body="Could you send the order number?"
        )
        conversation_close_session(conversation=whatsapp, agent=agent1)

        # Closed: ended, wrapped up and closed.
        done = conversation_create(workstream=workstreams["Web chat"], visitor=Visitor.objects.create())
        conversation_pick(conversation=done, agent=agent2)
        conversation_customer_end(conversation=done)
        conversation_close_session(conversation=done, agent=agent2)

    def _print_logins(self, base_url: str) -> None:
        out = self.stdout
        out.write(self.style.SUCCESS("\nOmnichannel demo is ready."))
        out.write("\nDemo logins (username / password):")
        for username, password, first, last, role, _ in DEMO_USERS:
            out.write(f"  {role:<14} {username:<11} / {password:<11} ({first} {last})")
        out.write("\nOpen:")
        out.write(f"  Agent home       {base_url}/agent/")
        out.write(f"  Supervisor home  {base_url}/supervisor/")
        out.write(f"  Administration   {base_url}/admin/")
        out.write(f"  Sign in          {base_url}/login/")
        out.write(f"  Customer's page  {base_url}/demo/  (the chat widget, as a customer sees it)\n")
